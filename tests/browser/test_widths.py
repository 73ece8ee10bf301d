"""Every role's main pages fit a phone (issue 14): logged in as each demo role, the home page, every
page of the role's menu and the detail pages the role works on are opened at 390 px and none may
be wider than the screen (document.documentElement.scrollWidth ≤ window.innerWidth): wide tables
scroll inside themselves, the menu folds behind its 菜单 button. Three pages that were too wide
or squeezed at 1366 px are checked at 1366 px.

The data is a county with long names (units, people, the bank) and large amounts, so widths mean
something: applications in the bank's queues, loans in the book (one overdue with a
classification history), a computed subsidy batch, the risk fund with a claim."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Role
from households.models import CreditRating
from loans.models import ClassificationChange, LoanApplication, PublicityNotice
from loans.models_postloan import PostLoanCheck
from loans.services import applications
from loans.workflow import State
from subsidies import services as subsidy_services
from subsidies.models import BatchChunk
from tests.conftest import World
from tests.factories import (
    CompensationClaimFactory,
    CreditRatingFactory,
    HouseholdFactory,
    LoanFactory,
    MemberFactory,
    RepaymentFactory,
    SettlementFactory,
    UserFactory,
    application_create,
)

from .conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

D = datetime.date
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
LONG_REASON = (
    "贷后检查发现借款人养殖的生猪因非洲猪瘟全部扑杀，经营收入锐减，第一还款来源明显不足，"
    "担保人亦外出务工联系不上，经信贷员与村干部共同入户核实后下调为次级。"
)
CLASS_REASON = (
    "借款人经营的砂糖橘果园遭受冻害绝收，连续两个结息期未能付息，逾期天数已达八十九天，"
    "经贷后检查核实后由关注类下调为次级类。"
)
HEADS = [
    "阿不都热合曼·艾买提江",
    "欧阳秀英",
    "司马长风",
    "覃韦黄莫秀兰",
    "买买提明·阿卜杜拉",
    "诸葛建国",
    "慕容海燕",
]


class County:
    """World (tests/conftest.py) with longer names, and the records each role's pages show."""

    def __init__(self, monkeypatch):
        w = self.world = World()
        for unit, name in (
            (w.county, "桂林市临桂区"),
            (w.t1, "黄沙瑶族乡"),
            (w.v1a, "大岭脚瑶族村"),
            (w.bank, "桂林临桂农村商业银行股份有限公司"),
            (w.br1, "黄沙瑶族乡农商银行营业部"),
        ):
            unit.name = name
            unit.save(update_fields=["name"])
        for user, name in (
            (w.cadre, "阿依古丽·买买提"),
            (w.officer, "司马欧阳明"),
            (w.approver, "诸葛慕容雪"),
            (w.finance, "上官婉儿"),
            (w.committee, "东方红日"),
        ):
            user.name = name
            user.save(update_fields=["name"])
        self.finance2 = UserFactory(username="finance2", unit=w.county, roles=[Role.FINANCE])

        self.households = [self._household(n, head) for n, head in enumerate(HEADS)]
        self._applications()
        self._loans()
        self._batch(monkeypatch)
        self.claim = CompensationClaimFactory(
            fund=w.fund,
            loan=self.overdue_loan,
            profile=w.profile,
            filed_by=w.officer,
            state="filed",
            paid_on=None,
            principal=Decimal("48765.43"),
            interest=Decimal("2345.67"),
        )

    def _household(self, n: int, head: str):
        w = self.world
        household = HouseholdFactory(
            village=w.v1a,
            registration_no=f"45031210120100{n + 10:02d}",
            address="黄沙瑶族乡大岭脚村委会下水源自然屯第三村民小组门牌号一百二十八号",
            annual_income=Decimal("123456.78"),
            head__name=head,
            head__age=45,
        )
        MemberFactory(household=household, name="覃韦黄莫丽娟", age=43)
        CreditRatingFactory(
            household=household,
            profile=w.profile,
            branch=w.br1,
            rated_by=w.officer,
            grade=CreditRating.Grade.AAA,
            credit_limit=Decimal("50000.00"),
            valid_from=timezone.localdate() - datetime.timedelta(days=30),
            valid_to=timezone.localdate() + datetime.timedelta(days=300),
        )
        return household

    def _drive(self, app: LoanApplication, target: str) -> LoanApplication:
        w = self.world
        while app.state != target:
            if app.state == State.DRAFT:
                app = applications.application_submit(acting_user=w.cadre, application=app)
            elif app.state == State.VILLAGE_REVIEW:
                app = applications.application_village_approve(acting_user=w.cadre, application=app)
            elif app.state == State.PUBLICITY:
                last = max(n.end_on for n in app.notices.filter(status=PublicityNotice.Status.RUNNING))
                applications.publicity_end_due(on_date=last + datetime.timedelta(days=1))
                app = LoanApplication.objects.get(pk=app.pk)
            elif app.state == State.BANK_ACCEPTANCE:
                app = applications.application_accept(
                    acting_user=w.officer,
                    application=app,
                    findings="实地查看养殖场，圈舍已建成并完成消毒，饲草料储备充足，申请人有多年养殖经验。",
                )
            elif app.state == State.BANK_APPROVAL:
                app = applications.application_approve(acting_user=w.approver, application=app)
            else:
                raise AssertionError(app.state)
        return app

    def _applications(self) -> None:
        w = self.world

        def new(household):
            return application_create(
                acting_user=w.cadre,
                household=household,
                amount=Decimal("50000.00"),
                term_months=36,
                purpose_detail="养殖肉牛十头，购买牛犊并储备青贮饲料，扩建标准化牛舍二百平方米",
                bank_account_no="6230 9012 3456 7890 123",
            )

        self.draft = new(self.households[0])
        self.publicity = self._drive(new(self.households[1]), State.PUBLICITY)
        self.acceptance = self._drive(new(self.households[2]), State.BANK_ACCEPTANCE)
        self.approval = self._drive(new(self.households[3]), State.BANK_APPROVAL)
        self.approved = self._drive(new(self.households[4]), State.APPROVED)

    def _loans(self) -> None:
        w = self.world
        household = self.households[5]
        self.loan = LoanFactory(
            household=household,
            branch=w.br1,
            contract_no="LGNSH-2025-HS-000123456",
            receipt_no="LGNSH-JJ-2025-000123456",
            account_no="6230901234567890123",
            amount=Decimal("50000.00"),
            outstanding=Decimal("48765.43"),
            disbursed_on=D(2025, 3, 20),
            maturity_on=D(2028, 3, 20),
            entity_name="临桂区黄沙瑶族乡大岭脚生态养殖农民专业合作社",
        )
        self.overdue_loan = LoanFactory(
            household=self.households[0],
            branch=w.br1,
            contract_no="LGNSH-2024-HS-000098765",
            receipt_no="LGNSH-JJ-2024-000098765",
            account_no="6230901234567890456",
            amount=Decimal("50000.00"),
            outstanding=Decimal("50000.00"),
            disbursed_on=D(2024, 3, 20),
            maturity_on=D(2026, 3, 20),
            state="overdue",
            days_past_due=89,
            classification="substandard",
        )
        for loan in (self.loan, self.overdue_loan):
            start = loan.disbursed_on
            while start < D(2026, 3, 20):
                end = D(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 20)
                SettlementFactory(loan=loan, period_start=start, period_end=end, recorded_by=w.officer)
                start = end
            RepaymentFactory(loan=loan, principal=Decimal("1234.57"), recorded_by=w.officer)
        ClassificationChange.objects.create(
            loan=self.overdue_loan,
            from_class="normal",
            to_class="special_mention",
            floor="special_mention",
            days_past_due=18,
            reason="按逾期天数自动调整",
        )
        ClassificationChange.objects.create(
            loan=self.overdue_loan,
            from_class="special_mention",
            to_class="substandard",
            floor="special_mention",
            days_past_due=89,
            reason=CLASS_REASON,
            by=w.officer,
        )
        PostLoanCheck.objects.create(
            loan=self.overdue_loan,
            due_on=D(2026, 5, 20),
            done_on=D(2026, 5, 22),
            officer=w.officer,
            funds_as_agreed=False,
            findings=LONG_REASON,
            classification="substandard",
            classification_reason=LONG_REASON,
        )
        PostLoanCheck.objects.create(loan=self.overdue_loan, due_on=D(2026, 6, 1))
        PostLoanCheck.objects.create(loan=self.loan, due_on=D(2026, 7, 1))

    def _batch(self, monkeypatch) -> None:
        """The first quarter of 2026, computed here (no worker: the chunks run in the test)."""
        w = self.world
        monkeypatch.setattr(subsidy_services, "_dispatch", lambda batch_id, run: None)
        batch = subsidy_services.batch_create(acting_user=w.finance, county=w.county, year=2026, quarter=1)
        batch = subsidy_services.batch_compute(acting_user=w.finance, batch=batch)
        for chunk_id in BatchChunk.objects.filter(batch=batch).values_list("pk", flat=True):
            subsidy_services.chunk_compute(chunk_id=chunk_id)
        subsidy_services.batch_finish_if_done(batch_id=batch.pk)
        self.batch = batch


@pytest.fixture
def county(monkeypatch) -> County:
    return County(monkeypatch)


def detail_pages(c: County) -> dict[str, list[str]]:
    """Beyond the menu: the pages each role works on (a household, an application, a loan, the
    subsidy batch and its lines, the fund and a claim), as far as the role may open them."""
    household = f"/households/{c.households[0].pk}/"
    book = f"/loans/book/{c.overdue_loan.pk}/"
    batch = f"/subsidies/{c.batch.pk}/"
    lines = f"/subsidies/{c.batch.pk}/lines/"
    fund = f"/riskfund/funds/{c.world.fund.pk}/"
    claim = f"/riskfund/claims/{c.claim.pk}/"
    return {
        "cadre": [
            household,
            f"/loans/{c.draft.pk}/",
            f"/loans/{c.publicity.pk}/",
            f"/loans/new/{c.households[6].pk}/",
            "/households/new/",
            book,
            batch,
            lines,
        ],
        "township": [household, f"/loans/{c.publicity.pk}/", book, batch, lines],
        "county": [household, f"/loans/{c.approved.pk}/", book, batch, lines, fund, claim],
        "officer": [household, f"/loans/{c.acceptance.pk}/", f"/loans/{c.approved.pk}/", book, fund, claim],
        "approver": [f"/loans/{c.approval.pk}/", book, fund, claim],
        "finance": [batch, lines, fund, claim],
        "committee": [fund, claim],
        "admin": [household, book, batch, lines, fund, claim, f"/policies/profiles/{c.world.profile.pk}/"],
    }


def menu_pages(page: Page) -> list[str]:
    hrefs = page.eval_on_selector_all(".mainnav a", "links => links.map(a => a.getAttribute('href'))")
    # Django's own admin site is not one of the project's pages.
    return [href for href in hrefs if not href.startswith("/admin/")]


def width_of(page: Page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def visit(page: Page, path: str, problems: list[str]) -> None:
    response = page.goto(path)
    status = response.status if response else 0
    if status >= 400 or not status:
        problems.append(f"{path}: answered {status}")
        return
    scroll, viewport = width_of(page)
    if scroll > viewport:
        problems.append(f"{path}: {scroll} px wide at {viewport} px")


ROLES = ["cadre", "township", "county", "officer", "approver", "finance", "committee", "admin"]


def phone_problems(page: Page, county: County, role: str) -> list[str]:
    """What is wrong with the role's pages at 390 px: each page wider than the screen, with its
    width, and each page that did not open."""
    page.context.clear_cookies()
    log_in(page, role, PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.goto("/")  # loaded, with its script running
    problems: list[str] = []

    # The menu folds behind its button, opens from the keyboard, and the open menu fits too.
    toggle = page.locator("[data-menu-toggle]")
    expect(toggle).to_be_visible()
    expect(page.locator(".mainnav")).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".mainnav")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    scroll, viewport = width_of(page)
    if scroll > viewport:
        problems.append(f"/ with the menu open: {scroll} px wide at {viewport} px")
    pages = menu_pages(page)
    page.keyboard.press("Escape")
    expect(page.locator(".mainnav")).to_be_hidden()
    expect(toggle).to_be_focused()

    for path in dict.fromkeys(["/", *pages, *detail_pages(county)[role]]):
        visit(page, path, problems)
    return problems


def test_every_roles_main_pages_fit_a_phone(page: Page, county):
    """One browser, one set of data, every role in turn (a test per role would build the data and
    start the browser eight times); the failure lists every role's pages that do not fit."""
    page.set_viewport_size(PHONE)
    report = []
    for role in ROLES:
        problems = phone_problems(page, county, role)
        report += [f"{role}: {problem}" for problem in problems]
    assert not report, "Pages wider than the phone's 390 px, or not opening:\n" + "\n".join(report)


def test_the_wide_tables_fit_1366(page: Page, county):
    """The disbursement queue's button was clipped, the batch lines page was 1,386 px wide, and
    a classification change's reason wrapped one character per line."""
    page.set_viewport_size(DESKTOP)
    problems: list[str] = []
    log_in(page, "officer", PASSWORD)
    visit(page, "/loans/disbursement/", problems)
    button = page.locator("main table a.btn, main table button").first
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box["x"] + box["width"] <= DESKTOP["width"], f"the disbursement button is clipped: {box}"

    visit(page, f"/loans/book/{county.overdue_loan.pk}/", problems)
    reason = page.locator("td", has_text=CLASS_REASON[:12]).first
    expect(reason).to_be_visible()
    # At least eight characters a line: 15 px characters in a cell at least 120 px wide.
    assert reason.bounding_box()["width"] >= 120, f"the reason column is squeezed: {reason.bounding_box()}"

    page.context.clear_cookies()
    log_in(page, "finance", PASSWORD)
    visit(page, f"/subsidies/{county.batch.pk}/lines/", problems)
    visit(page, f"/subsidies/{county.batch.pk}/", problems)
    assert not problems, "at 1366 px:\n" + "\n".join(problems)
