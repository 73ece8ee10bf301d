"""Content-Security-Policy (issue 10, ASVS V3.4): every response carries a policy that lets
scripts and styles come only from our own files, so an injected <script> or on*= attribute does
not run. Three proofs: the header on every kind of page; no template holds an inline script, an
event-handler attribute or an inline style (the policy would refuse it, and the page would break);
and the main pages, driven in headless Chromium, report no CSP violation while their scripts run."""

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from households.models import CreditRating
from loans.models import LoanApplication, PublicityNotice
from loans.services import applications as loan_services
from tests.browser.conftest import log_in, page  # noqa: F401 (the browser fixture)
from tests.factories import CreditRatingFactory, HouseholdFactory, application_create

BASE = Path(__file__).resolve().parents[2]

# Templates WeasyPrint renders to PDF: never served as a page, so the policy does not apply and
# their print styles stay inline.
PDF_TEMPLATES = {"subsidies/pdf_public.html", "subsidies/pdf_summary.html"}


def directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} ({response.status_code}) has no Content-Security-Policy"
    parsed = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_strict(response, *, inline_styles: bool = False) -> None:
    path = response.request["PATH_INFO"]
    d = directives(response)
    assert d["script-src"] == ["'self'"], (path, d)
    assert d["default-src"] == ["'self'"], (path, d)
    for name in ("script-src", "default-src"):
        assert "'unsafe-inline'" not in d[name] and "'unsafe-eval'" not in d[name], (path, name, d)
    assert d["object-src"] == ["'none'"], (path, d)
    assert d["base-uri"] == ["'self'"], (path, d)
    assert d["frame-ancestors"] == ["'none'"], (path, d)
    assert d["form-action"] == ["'self'"], (path, d)
    if not inline_styles:
        assert d["style-src"] == ["'self'"], (path, d)


# ---------------------------------------------------------------------------------------------
# The header
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def application(world):
    household = HouseholdFactory(village=world.v1a, head__age=40)
    return application_create(acting_user=world.cadre, household=household)


@pytest.mark.django_db
def test_every_kind_of_response_carries_the_policy(world, client, application):
    # Anonymous: the login page, the admin's login, a page that needs a login, an unknown page,
    # the API's refusal.
    anonymous = ("/accounts/login/", "/admin/login/", "/households/", "/no-such-page/", "/api/v1/households/")
    for path in anonymous:
        assert_strict(client.get(path))

    # Every role: the home page and every page of its menu (the administrator's includes the admin site).
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    seen = set()
    for user in world.users().values():
        client.force_login(user)
        home = client.get("/")
        assert home.status_code == 200
        assert_strict(home)
        for href in [item.href for item in home.context["nav_items"]]:
            r = client.get(href)
            assert r.status_code == 200, (user.username, href, r.status_code)
            assert_strict(r)
            seen.add(href)
    assert len(seen) >= 8, seen

    # Pages with scripts of their own, an API answer, the API documentation and its script.
    client.force_login(world.cadre)
    for path in (
        f"/households/{application.household_id}/",
        "/households/new/",
        f"/loans/new/{application.household_id}/",
        f"/loans/{application.pk}/",
        "/api/v1/households/",
        "/api/docs/",
        "/api/docs/?script=",
        "/api/schema/",
    ):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert_strict(r)
    docs = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="></script>' in docs.replace("&amp;", "&")
    # Redoc injects its styles at run time: its page alone allows inline styles, never scripts.
    redoc = client.get("/api/redoc/")
    assert_strict(redoc, inline_styles=True)
    assert directives(redoc)["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives(redoc)["worker-src"] == ["'self'", "blob:"]


# ---------------------------------------------------------------------------------------------
# The templates
# ---------------------------------------------------------------------------------------------

# A <script> without src, unless it is a JSON data block (json_script), which never runs.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*type=[\"']application/json)[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*?\s(on[a-z]+)\s*=", re.I | re.S)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*?\sstyle\s*=", re.I | re.S)
STYLE_BLOCK = re.compile(r"<style\b", re.I)


def project_templates() -> list[tuple[str, Path]]:
    """(name, path) of every template of ours: templates/ and each app's templates/ folder."""
    folders = [BASE / "templates"] + [
        p for p in BASE.glob("*/templates") if p.parent.name not in {".venv", "node_modules", "staticfiles"}
    ]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.html")):
            found.append((path.relative_to(folder).as_posix(), path))
    return found


def test_no_template_holds_inline_script_handler_or_style():
    templates = project_templates()
    assert len(templates) > 50, "the templates were not found"
    problems = []
    for name, path in templates:
        text = path.read_text()
        problems += [f"{name}: inline script {m.group(0)!r}" for m in INLINE_SCRIPT.finditer(text)]
        problems += [f"{name}: event handler {m.group(1)}=" for m in HANDLER.finditer(text)]
        problems += [f"{name}: javascript: URL" for _ in JS_URL.finditer(text)]
        if name not in PDF_TEMPLATES:
            problems += [f"{name}: style attribute (use a class)" for _ in STYLE_ATTRIBUTE.finditer(text)]
            problems += [f"{name}: <style> block (use static/css)" for _ in STYLE_BLOCK.finditer(text)]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_what_it_looks_for():
    """The patterns above do catch each form, so an empty result means something."""
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">x()</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/js/app.js"></script>')
    assert not INLINE_SCRIPT.search('<script type="application/json" id="x">{}</script>')
    assert HANDLER.search('<button type="button" onclick="window.print()">')
    assert HANDLER.search('<form method="post"\n      onsubmit="go()">')
    assert not HANDLER.search("<p>Click on=the button</p>")
    assert JS_URL.search('<a href="javascript:void(0)">')
    assert STYLE_ATTRIBUTE.search('<div class="card" style="color:red">')
    assert not STYLE_ATTRIBUTE.search('<div data-style="x">')
    assert STYLE_BLOCK.search("<style>.x{}</style>")


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------

# Collects what the browser reports: a `securitypolicyviolation` event on the page (added before
# any script of the page runs) and the console's CSP messages.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(
    e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber
  );
});
"""


class Violations:
    def __init__(self, browser_page: Page):
        self.page = browser_page
        self.found: list[str] = []
        browser_page.add_init_script(WATCH_VIOLATIONS)
        browser_page.on("console", self._console)
        browser_page.on("pageerror", lambda error: self.found.append(f"{self.page.url}: error {error}"))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.found.append(f"{self.page.url}: {message.text}")

    def without_redoc_logo(self) -> list[str]:
        """What was found, less the one request the policy is meant to stop: Redoc always draws
        its maker's logo from cdn.redoc.ly (hides it when it fails to load), and no page of ours
        may fetch from another site."""
        return [v for v in self.found if not ("/api/redoc/" in v and "https://cdn.redoc.ly/" in v)]

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status < 400, (path, response and response.status)
        assert response.headers.get("content-security-policy"), path
        self.page.wait_for_load_state("networkidle")
        self.collect()

    def collect(self) -> None:
        events = self.page.evaluate("window.__cspViolations || []")
        self.found += [f"{self.page.url}: {e}" for e in events]
        self.page.evaluate("window.__cspViolations = []")


def rate(world, household):
    today = timezone.localdate()
    CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=Decimal("50000.00"),
        valid_from=today - datetime.timedelta(days=30),
        valid_to=today + datetime.timedelta(days=300),
    )


def to_bank_approval(world, app: LoanApplication) -> LoanApplication:
    app = loan_services.application_submit(acting_user=world.cadre, application=app)
    app = loan_services.application_village_approve(acting_user=world.cadre, application=app)
    last = max(n.end_on for n in app.notices.filter(status=PublicityNotice.Status.RUNNING))
    loan_services.publicity_end_due(on_date=last + datetime.timedelta(days=1))
    app = LoanApplication.objects.get(pk=app.pk)
    return loan_services.application_accept(acting_user=world.officer, application=app, findings="实地查看")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_main_pages_run_in_chromium_without_a_csp_violation(page: Page, world, application):  # noqa: F811
    rate(world, application.household)
    in_approval = to_bank_approval(world, application)
    approved_household = HouseholdFactory(village=world.v1a, head__age=45)
    rate(world, approved_household)
    second = application_create(
        acting_user=world.cadre,
        household=approved_household,
        amount=Decimal("20000.00"),
        term_months=12,
        purpose_category="planting",
        purpose_detail="种植沙糖桔 10 亩",
        bank_account_no="6230 0000 3333 4444",
    )
    approved = loan_services.application_approve(
        acting_user=world.approver, application=to_bank_approval(world, second)
    )
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    household = application.household
    watch = Violations(page)

    watch.visit("/accounts/login/")
    log_in(page, "cadre")
    expect(page.locator("nav.mainnav")).to_be_visible()
    for path in ("/", "/households/", f"/households/{household.pk}/", "/loans/", f"/loans/{in_approval.pk}/"):
        watch.visit(path)
    # The household form: its script adds a member row.
    watch.visit("/households/new/")
    rows = page.locator("#members > *")
    before = rows.count()
    page.click("#add-member")
    expect(rows).to_have_count(before + 1)
    watch.collect()
    # The application form: its script asks the server for the eligibility panel as one types.
    other = HouseholdFactory(village=world.v1a, head__age=50)
    watch.visit(f"/loans/new/{other.pk}/")
    expect(page.locator("#eligibility-panel .verdict, #eligibility-panel .muted").first).to_be_visible()
    page.fill("#id_amount", "30000")
    page.wait_for_load_state("networkidle")
    watch.collect()
    watch.visit("/loans/publicity/")
    watch.visit("/loans/publicity/notice/")
    expect(page.locator("[data-print]")).to_be_visible()
    watch.collect()

    page.context.clear_cookies()
    log_in(page, "officer")
    watch.visit(f"/households/{household.pk}/rate/")
    # The rating form's script totals the scores as they are typed.
    inputs = page.locator("input[data-dimension]")
    for i in range(inputs.count()):
        inputs.nth(i).fill("5")
    expect(page.locator("[data-preview=total]")).to_have_text(str(5 * inputs.count()))
    watch.collect()
    watch.visit(f"/loans/{approved.pk}/disburse/")
    page.fill("#id_disbursed_on", "2026-06-17")
    page.dispatch_event("#id_disbursed_on", "change")
    expect(page.locator("#maturity")).to_have_text("2027-06-17")
    watch.collect()

    page.context.clear_cookies()
    log_in(page, "approver")
    watch.visit(f"/loans/{in_approval.pk}/approve/")
    page.fill("#id_term_months", "12")
    expect(page.locator("#rate-now")).to_contain_text("%")
    watch.collect()

    page.context.clear_cookies()
    log_in(page, "finance")
    watch.visit("/subsidies/")

    page.context.clear_cookies()
    log_in(page, "admin")
    watch.visit("/admin/")
    watch.visit("/admin/password_change/")
    # The API documentation: Swagger UI and Redoc draw the schema from our own files.
    watch.visit("/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    watch.collect()
    watch.visit("/api/redoc/")
    expect(page.locator("redoc h1, [role=main] h1").first).to_be_visible()
    watch.collect()

    assert any("cdn.redoc.ly" in v for v in watch.found), "the policy let Redoc fetch from another site"
    assert not watch.without_redoc_logo(), "\n".join(watch.without_redoc_logo())
