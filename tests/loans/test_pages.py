"""The loan application pages: each renders for the roles that work there and answers 403 to the
others and 404 outside the user's area; every page shows only the steps this user may take now;
rule failures appear next to their field with their source; list pages' query counts do not grow
with the rows; and an application goes from draft to loan through the pages alone."""

import datetime
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from accounts.models import Role
from households.models import CreditRating
from loans import eligibility
from loans.models import InvestigationPhoto, Loan, LoanApplication, PublicityNotice
from loans.services import applications
from loans.workflow import State
from policies import citations
from policies.models import CalendarDay
from tests.factories import CreditRatingFactory, HouseholdFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"loans:{name}", args=args)


def step_url(app, name):
    return url("application_transition", app.pk, name)


def form_data(household, **overrides) -> dict:
    data = {
        "borrower": str(household.members.get(is_head=True).pk),
        "amount": "20000",
        "term_months": "24",
        "purpose_category": "breeding",
        "purpose_detail": "养殖肉牛 4 头",
        "use_mode": "self",
        "entity_name": "",
        "bank_account_no": "6230 0000 1111 2222",
        "capacity_attested": "on",
        "consent_publicity": "on",
        "consent_credit_query": "on",
        "action": "save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def field_block(html: str, name: str) -> str:
    """The HTML of one field of the application form (from its wrapper to its hint box)."""
    match = re.search(rf'<div class="field[^"]*" data-field="{name}">.*?data-hints-for="{name}"', html, re.S)
    assert match, f"field {name} not on the page"
    return match.group(0)


def png(name="site.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 120, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def dual(world):
    """A user who is both loan officer and approver at branch br1: four-eyes applies to them."""
    return UserFactory(username="dual", unit=world.br1, roles=[Role.LOAN_OFFICER, Role.APPROVER])


@pytest.fixture
def many(world, household, new_application, drive):
    """make(n, state): n small applications of the household driven to `state`. Small amounts keep
    the household under its cap, and one borrower may have several applications in flight."""

    def make(n, state=State.DRAFT):
        apps = [new_application(amount=Decimal("2000.00")) for _ in range(n)]
        if state == State.DRAFT:
            return apps
        apps = [drive(a, State.PUBLICITY if state != State.VILLAGE_REVIEW else state) for a in apps]
        if ORDER.index(state) > ORDER.index(State.PUBLICITY):
            last = max(PublicityNotice.objects.filter(application__in=apps).values_list("end_on", flat=True))
            applications.publicity_end_due(on_date=last + datetime.timedelta(days=1))
            apps = [drive(LoanApplication.objects.get(pk=a.pk), state) for a in apps]
        return apps

    return make


ORDER = [State.DRAFT, State.VILLAGE_REVIEW, State.PUBLICITY, State.BANK_ACCEPTANCE, State.BANK_APPROVAL]


# ---------------------------------------------------------------------------------------------
# The application form


def test_create_page_shows_rating_line_outstanding_and_headroom(
    world, client_as, household, new_application, drive
):
    drive(new_application(amount=Decimal("10000.00")), State.VILLAGE_REVIEW)
    r = client_as(world.cadre).get(url("application_create", household.pk))
    assert r.status_code == 200
    panel = r.context["panel"]
    assert panel["rating"].grade == CreditRating.Grade.AAA
    assert panel["applied"] == Decimal("10000.00")
    assert panel["cap"] == Decimal("50000.00")
    assert panel["headroom"] == Decimal("40000.00")
    assert panel["max_amount"] == Decimal("40000.00")
    html = r.content.decode()
    assert "40,000.00" in html and "AAA" in html
    assert url("eligibility_check") in html
    # The forbidden purposes are in the list, so a cadre who picks one sees the rule.
    assert 'value="house_building"' in html


def test_create_page_is_for_the_cadre_of_the_village_only(world, client_as, household):
    for user in (world.township_officer, world.county_office, world.officer, world.approver):
        assert client_as(user).get(url("application_create", household.pk)).status_code == 403
    # Outside the user's area the household does not exist.
    assert client_as(world.other_cadre).get(url("application_create", household.pk)).status_code == 404
    neighbour = UserFactory(unit=world.v1b, roles=[Role.VILLAGE_CADRE])
    assert client_as(neighbour).get(url("application_create", household.pk)).status_code == 404


def test_save_as_draft(world, client_as, household):
    r = client_as(world.cadre).post(url("application_create", household.pk), form_data(household))
    app = LoanApplication.objects.get()
    assert r.status_code == 302 and r.url == url("application_detail", app.pk)
    assert app.state == State.DRAFT
    assert app.amount == Decimal("20000.00") and app.branch == world.br1


def test_forbidden_purpose_is_shown_next_to_the_field_with_its_source(world, client_as, household):
    client = client_as(world.cadre)
    r = client.post(
        url("application_create", household.pk),
        form_data(household, purpose_category="house_building", action="submit"),
    )
    assert r.status_code == 400
    # Saving and submitting are one step: the refused submission saved nothing.
    assert not LoanApplication.objects.exists()
    with translation.override("zh-hans"):
        report = eligibility.evaluate(
            household=household,
            borrower=household.members.get(is_head=True),
            amount=Decimal("20000"),
            term_months=24,
            purpose_category="house_building",
            on_date=timezone.localdate(),
        )
    forbidden = next(x for x in report.results if x.rule == "forbidden_purpose")
    assert not forbidden.passed
    block = field_block(r.content.decode(), "purpose_category")
    assert "has-error" in block
    assert forbidden.message in block
    assert citations.plain(forbidden.source) in block  # 《山西省实施意见》四（五）, not "P2 §4(5)"


def test_missing_format_errors_stay_next_to_fields(world, client_as, household):
    r = client_as(world.cadre).post(url("application_create", household.pk), form_data(household, amount=""))
    assert r.status_code == 400
    assert "has-error" in field_block(r.content.decode(), "amount")
    assert not LoanApplication.objects.exists()


def test_save_then_submit_from_the_form(world, client_as, household):
    client = client_as(world.cadre)
    client.post(url("application_create", household.pk), form_data(household, action="submit"))
    app = LoanApplication.objects.get()
    assert app.state == State.VILLAGE_REVIEW
    assert app.history.get().by == world.cadre


def test_edit_a_draft(world, client_as, household, new_application):
    app = new_application()
    client = client_as(world.cadre)
    r = client.get(url("application_edit", app.pk))
    assert r.status_code == 200
    assert r.context["report"]["eligible"] is True
    r = client.post(url("application_edit", app.pk), form_data(household, amount="15000"))
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.amount == Decimal("15000.00")
    assert client_as(world.township_officer).get(url("application_edit", app.pk)).status_code == 403


def test_only_a_draft_is_edited(world, client_as, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    r = client_as(world.cadre).get(url("application_edit", app.pk))
    assert r.status_code == 302 and r.url == url("application_detail", app.pk)


def test_eligibility_check_answers_every_rule_as_json(world, client_as, household):
    client = client_as(world.cadre)
    data = form_data(household, purpose_category="house_building")
    data["household"] = household.pk
    body = client.post(url("eligibility_check"), data).json()
    assert body["eligible"] is False
    rules = {r["rule"]: r for r in body["results"]}
    assert set(rules) == set(eligibility.RULE_CODES)
    assert rules["forbidden_purpose"]["passed"] is False
    assert rules["forbidden_purpose"]["field"] == "purpose_category"
    assert rules["forbidden_purpose"]["source"] == eligibility.SOURCES["forbidden_purpose"]
    assert citations.plain(rules["forbidden_purpose"]["source"]) in rules["forbidden_purpose"]["hint"]

    data["purpose_category"] = "breeding"
    assert client.post(url("eligibility_check"), data).json()["eligible"] is True
    # An unticked attestation is what the form holds: the rule fails.
    del data["capacity_attested"]
    body = client.post(url("eligibility_check"), data).json()
    assert [r["rule"] for r in body["results"] if not r["passed"]] == ["capacity"]


def test_eligibility_check_is_scoped_and_post_only(world, client_as, household):
    data = form_data(household)
    data["household"] = household.pk
    assert client_as(world.other_cadre).post(url("eligibility_check"), data).status_code == 404
    assert client_as(world.cadre).get(url("eligibility_check")).status_code == 405
    data["borrower"] = ""
    body = client_as(world.cadre).post(url("eligibility_check"), data).json()
    assert body["results"] == [] and body["message"]


# ---------------------------------------------------------------------------------------------
# Lists


def test_list_counts_per_state_filters_and_searches(world, client_as, household, new_application, drive):
    new_application(amount=Decimal("1000.00"))
    drive(new_application(amount=Decimal("1000.00")), State.VILLAGE_REVIEW)
    other = HouseholdFactory(village=world.v1a, registration_no="450312-OTHER-9")
    CreditRatingFactory(household=other, profile=world.profile, branch=world.br1, rated_by=world.officer)
    new_application(household=other, borrower=other.members.get(), amount=Decimal("1000.00"))
    client = client_as(world.cadre)

    r = client.get(url("application_list"))
    tabs = {t["state"]: t["count"] for t in r.context["tabs"]}
    assert tabs[""] == 3 and tabs[State.DRAFT] == 2 and tabs[State.VILLAGE_REVIEW] == 1
    assert tabs[State.DISBURSED] == 0

    r = client.get(url("application_list"), {"state": State.DRAFT})
    assert {a.state for a in r.context["page_obj"].object_list} == {State.DRAFT}

    r = client.get(url("application_list"), {"q": "OTHER-9"})
    assert [a.household_id for a in r.context["page_obj"].object_list] == [other.pk]
    name = other.members.get().name
    r = client.get(url("application_list"), {"q": name})
    assert other.pk in {a.household_id for a in r.context["page_obj"].object_list}

    # Somebody else's county sees none of them.
    r = client_as(world.other_cadre).get(url("application_list"))
    assert r.context["page_obj"].paginator.count == 0


def test_list_query_count_does_not_grow(world, client_as, many, django_assert_max_num_queries):
    client = client_as(world.cadre)
    many(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("application_list")).status_code == 200
    many(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = client.get(url("application_list"))
    assert len(r.context["page_obj"].object_list) == 20


@pytest.mark.parametrize(
    "page,state,who",
    [
        ("acceptance_queue", State.BANK_ACCEPTANCE, "officer"),
        ("approval_queue", State.BANK_APPROVAL, "approver"),
        ("publicity_board", State.PUBLICITY, "cadre"),
    ],
)
def test_queue_query_counts_do_not_grow(
    world, client_as, many, django_assert_max_num_queries, page, state, who
):
    client = client_as(getattr(world, who))
    many(3, state)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(page)).status_code == 200
    many(20, state)
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = client.get(url(page))
    assert len(r.context["rows"]) == 20


def test_queues_are_for_their_roles(world, client_as):
    pages = {
        "acceptance_queue": {world.officer},
        "approval_queue": {world.approver},
        "disbursement_queue": {world.officer},
    }
    for page, allowed in pages.items():
        for user in (world.cadre, world.township_officer, world.county_office, world.officer, world.approver):
            expected = 200 if user in allowed else 403
            assert client_as(user).get(url(page)).status_code == expected, (page, user)


def test_queues_show_only_the_branch_of_the_user(world, client_as, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    r = client_as(world.officer).get(url("acceptance_queue"))
    assert [row["app"].pk for row in r.context["rows"]] == [app.pk]
    assert url("application_accept", app.pk) in r.content.decode()
    other_officer = UserFactory(unit=world.br2, roles=[Role.LOAN_OFFICER])
    assert client_as(other_officer).get(url("acceptance_queue")).context["rows"] == []


def test_approval_queue_four_eyes(world, client_as, new_application, drive, dual):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    applications.application_accept(acting_user=dual, application=app, findings="实地查看，属实")
    r = client_as(world.approver).get(url("approval_queue"))
    assert url("application_approve", app.pk) in r.content.decode()
    r = client_as(dual).get(url("approval_queue"))
    (row,) = r.context["rows"]
    assert row["four_eyes"] and "approve" not in row["available"]
    assert url("application_approve", app.pk) not in r.content.decode()


# ---------------------------------------------------------------------------------------------
# Detail and the buttons each user sees


def seen_by(client_as, user, app) -> set[str]:
    """The steps `user` is offered on the application's page."""
    return buttons(client_as(user).get(url("application_detail", app.pk)).content.decode(), app)


def buttons(html: str, app) -> set[str]:
    names = set(re.findall(rf"/loans/{app.pk}/transition/(\w+)/", html))
    for name, path in (
        ("object", url("objection_create", app.pk)),
        ("accept", url("application_accept", app.pk)),
        ("approve", url("application_approve", app.pk)),
        ("disburse", url("application_disburse", app.pk)),
    ):
        if f'href="{path}"' in html:
            names.add(name)
    return names


def test_detail_buttons_follow_state_and_role(world, client_as, new_application, drive, dual):
    app = new_application()
    html = client_as(world.cadre).get(url("application_detail", app.pk)).content.decode()
    assert buttons(html, app) == {"submit", "withdraw"}
    assert url("application_edit", app.pk) in html

    app = drive(app, State.VILLAGE_REVIEW)
    seen = {
        who: seen_by(client_as, getattr(world, who), app)
        for who in ("cadre", "township_officer", "county_office", "officer", "approver")
    }
    assert seen == {
        "cadre": {"village_approve", "village_reject", "send_back", "withdraw"},
        "township_officer": set(),
        "county_office": set(),
        "officer": set(),
        "approver": set(),
    }

    app = drive(app, State.PUBLICITY)
    for who in ("cadre", "township_officer", "county_office"):
        html = client_as(getattr(world, who)).get(url("application_detail", app.pk)).content.decode()
        assert "object" in buttons(html, app), who
    assert seen_by(client_as, world.officer, app) == set()

    app = drive(app, State.BANK_ACCEPTANCE)
    assert seen_by(client_as, world.officer, app) == {"accept", "decline"}
    assert seen_by(client_as, world.cadre, app) == {"withdraw"}
    applications.application_accept(acting_user=dual, application=app, findings="属实")
    app.refresh_from_db()
    html = client_as(world.approver).get(url("application_detail", app.pk)).content.decode()
    assert buttons(html, app) == {"approve", "reject", "return_to_officer"}
    r = client_as(dual).get(url("application_detail", app.pk))
    assert r.context["four_eyes"] is True
    assert buttons(r.content.decode(), app) == set()
    assert 'class="note"' in r.content.decode()

    app = drive(app, State.APPROVED)
    assert seen_by(client_as, world.officer, app) == {"disburse"}
    assert seen_by(client_as, world.approver, app) == set()


def test_detail_is_scoped(world, client_as, new_application):
    app = new_application()
    assert client_as(world.other_cadre).get(url("application_detail", app.pk)).status_code == 404
    other_officer = UserFactory(unit=world.br2, roles=[Role.LOAN_OFFICER])
    assert client_as(other_officer).get(url("application_detail", app.pk)).status_code == 404
    assert client_as(world.county_office).get(url("application_detail", app.pk)).status_code == 200


def test_detail_shows_eligibility_history_and_masked_id_by_role(world, client_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    borrower = app.borrower
    r = client_as(world.county_office).get(url("application_detail", app.pk))
    html = r.content.decode()
    assert r.context["report"]["eligible"] is True
    assert borrower.id_number_masked in html and borrower.id_number not in html
    assert len(r.context["history"]) == 2
    assert len(r.context["notices"]) == len(world.profile.publicity_levels)
    # #10: masked for the cadre too; the whole number is the household page's audited reveal.
    cadre_html = client_as(world.cadre).get(url("application_detail", app.pk)).content.decode()
    assert borrower.id_number not in cadre_html and borrower.id_number_masked in cadre_html


# ---------------------------------------------------------------------------------------------
# The generic step endpoint


def test_transition_endpoint_takes_the_step(world, client_as, new_application):
    app = new_application()
    r = client_as(world.cadre).post(step_url(app, "submit"), {"submit-comment": "材料齐全"})
    assert r.status_code == 302 and r.url == url("application_detail", app.pk)
    app.refresh_from_db()
    assert app.state == State.VILLAGE_REVIEW
    assert app.history.get().comment == "材料齐全"


def test_transition_endpoint_refusals(world, client_as, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    assert client_as(world.cadre).get(step_url(app, "send_back")).status_code == 405
    assert client_as(world.cadre).post(url("application_transition", app.pk, "bogus")).status_code == 404
    # The steps with their own forms are not taken here.
    assert client_as(world.cadre).post(url("application_transition", app.pk, "approve")).status_code == 404
    assert client_as(world.township_officer).post(step_url(app, "village_approve")).status_code == 403
    assert client_as(world.other_cadre).post(step_url(app, "village_approve")).status_code == 404

    # A reason is required to send back: the error is next to the reason box of that step.
    r = client_as(world.cadre).post(step_url(app, "send_back"), {"send_back-comment": ""})
    assert r.status_code == 400
    assert r.context["failed_step"] == "send_back"
    (step,) = [s for s in r.context["steps"] if s["name"] == "send_back"]
    assert step["form"].errors["comment"]
    app.refresh_from_db()
    assert app.state == State.VILLAGE_REVIEW

    # A step the state no longer allows: back to the application with a message.
    r = client_as(world.cadre).post(step_url(app, "submit"))
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.VILLAGE_REVIEW


def test_submit_refused_by_rules_lists_them_with_sources(world, client_as, new_application):
    app = new_application(purpose_category="house_building", bank_account_no="")
    r = client_as(world.cadre).post(step_url(app, "submit"))
    assert r.status_code == 400
    rules = {row["rule"]: row for row in r.context["rule_errors"]}
    assert {"forbidden_purpose", "productive_purpose", "bank_account"} <= set(rules)
    html = r.content.decode()
    assert 'id="rule-errors"' in html
    assert citations.plain(rules["forbidden_purpose"]["source"]) in html
    app.refresh_from_db()
    assert app.state == State.DRAFT


def test_village_approve_without_consent_names_the_rule(world, client_as, new_application, drive):
    app = drive(new_application(consent_publicity=False), State.VILLAGE_REVIEW)
    r = client_as(world.cadre).post(step_url(app, "village_approve"))
    assert r.status_code == 400
    assert [row["rule"] for row in r.context["rule_errors"]] == ["consent_publicity"]
    assert "《个人信息保护法》" in r.content.decode()  # PIPL art.25, as readers cite it


def test_withdraw_needs_a_reason_and_records_it(world, client_as, new_application):
    app = new_application()
    client = client_as(world.cadre)
    assert client.post(step_url(app, "withdraw"), {"withdraw-comment": " "}).status_code == 400
    r = client.post(step_url(app, "withdraw"), {"withdraw-comment": "农户改变主意"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.WITHDRAWN and app.decision_reason == "农户改变主意"


# ---------------------------------------------------------------------------------------------
# Publicity


def working_days_between(start, end) -> int:
    return CalendarDay.objects.filter(date__gte=start, date__lte=end, is_working_day=True).count()


def test_publicity_board_shows_notices_days_left_and_objection_links(
    world, client_as, new_application, drive
):
    app = drive(new_application(), State.PUBLICITY)
    notice = app.notices.first()
    today = timezone.localdate()
    for who, can_object in (
        ("cadre", True),
        ("township_officer", True),
        ("county_office", True),
        ("officer", False),
    ):
        r = client_as(getattr(world, who)).get(url("publicity_board"))
        assert r.status_code == 200
        rows = r.context["rows"]
        assert {row["app"].pk for row in rows} == {app.pk}, who
        assert all(row["can_object"] is can_object for row in rows), who
        assert (url("objection_create", app.pk) in r.content.decode()) is can_object, who
    # One row per application, with its notices village → township → county.
    (row,) = rows
    assert [item["notice"].level for item in row["notices"]] == world.profile.publicity_levels
    item = next(item for item in row["notices"] if item["notice"].pk == notice.pk)
    assert item["left"] == working_days_between(today, notice.end_on)
    assert 1 <= item["left"] <= notice.working_days
    assert client_as(world.other_cadre).get(url("publicity_board")).context["rows"] == []
    # Filter by level.
    r = client_as(world.cadre).get(url("publicity_board"), {"level": "village"})
    assert [item["notice"].level for item in r.context["rows"][0]["notices"]] == ["village"]


def test_objection_suspends_publicity(world, client_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    assert client_as(world.officer).get(url("objection_create", app.pk)).status_code == 403
    assert client_as(world.other_cadre).get(url("objection_create", app.pk)).status_code == 404
    client = client_as(world.township_officer)
    assert client.get(url("objection_create", app.pk)).status_code == 200
    r = client.post(url("objection_create", app.pk), {"objector": "", "text": ""})
    assert r.status_code == 400 and r.context["form"].errors["text"]
    r = client.post(
        url("objection_create", app.pk), {"objector": "村民张某", "text": "该户已外出务工，不养牛"}
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.VILLAGE_REVIEW
    assert not app.notices.filter(status=PublicityNotice.Status.RUNNING).exists()
    assert app.objections.get().objector == "村民张某"
    # Not under publicity any more: the page sends the user back to the application.
    assert client.get(url("objection_create", app.pk)).status_code == 302


def test_printable_notice_shows_masked_ids_only(world, client_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    borrower = app.borrower
    for user in (world.cadre, world.officer):  # the officer may read full numbers elsewhere
        r = client_as(user).get(url("publicity_notice_print"), {"village": world.v1a.pk, "level": "village"})
        assert r.status_code == 200
        html = r.content.decode()
        assert borrower.id_number_masked in html
        assert borrower.id_number not in html
        assert borrower.name in html
        # A4 print styles, from our own stylesheet (the CSP refuses inline styles).
        assert "/static/css/notice_print.css" in html and "<style" not in html
        assert "@page { size: A4" in Path(settings.BASE_DIR, "static/css/notice_print.css").read_text()
        assert 'class="mainnav"' not in html
    assert r.context["notices"] and {n.level for n in r.context["notices"]} == {"village"}
    r = client_as(world.cadre).get(url("publicity_notice_print"), {"level": "township"})
    assert {n.level for n in r.context["notices"]} <= {"township"}
    assert client_as(world.cadre).get(url("publicity_notice_print"), {"level": "moon"}).status_code == 404
    # A village outside the user's area does not exist for them.
    r = client_as(world.cadre).get(url("publicity_notice_print"), {"village": world.vz.pk})
    assert r.status_code == 404


# ---------------------------------------------------------------------------------------------
# The bank's forms


def test_accept_form_is_for_the_branch_officer(world, client_as, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    assert client_as(world.officer).get(url("application_accept", app.pk)).status_code == 200
    assert client_as(world.approver).get(url("application_accept", app.pk)).status_code == 403
    assert client_as(world.cadre).get(url("application_accept", app.pk)).status_code == 403
    other_officer = UserFactory(unit=world.br2, roles=[Role.LOAN_OFFICER])
    assert client_as(other_officer).get(url("application_accept", app.pk)).status_code == 404


def test_accept_requires_findings_and_saves_nothing_without(world, client_as, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    r = client_as(world.officer).post(
        url("application_accept", app.pk),
        {"investigated_on": timezone.localdate().isoformat(), "findings": "", "photos": png()},
    )
    assert r.status_code == 400 and r.context["form"].errors["findings"]
    assert not InvestigationPhoto.objects.exists()
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    r = client_as(world.officer).post(
        url("application_accept", app.pk), {"investigated_on": future, "findings": "x"}
    )
    assert r.status_code == 400 and r.context["form"].errors["investigated_on"]


@pytest.mark.today("2026-06-17")
def test_approve_form_shows_the_indicative_rate_and_checks_the_amount(
    world, client_as, new_application, drive
):
    app = drive(new_application(amount=Decimal("30000.00"), term_months=24), State.BANK_APPROVAL)
    client = client_as(world.approver)
    r = client.get(url("application_approve", app.pk))
    assert r.status_code == 200
    # The default profile, 24 months, 2026-06-17: the 5-year LPR in force since 2025-05-20, 3.50.
    assert r.context["rate_now"]["rate"] == "3.50"
    assert r.context["rate_now"]["since"] == "2025-05-20"
    html = r.content.decode()
    assert "3.50%" in html
    # Labelled as indicative: the loan's rate is fixed at disbursement.
    with translation.override("zh-hans"):
        assert translation.gettext("Indicative rate") in html

    r = client.post(url("application_approve", app.pk), {"amount": "35000", "term_months": "24"})
    assert r.status_code == 400
    assert r.context["form"].errors["amount"]
    r = client.post(
        url("application_approve", app.pk), {"amount": "25000", "term_months": "12", "comment": ""}
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.APPROVED and app.approved_amount == Decimal("25000.00")
    assert app.rate == Decimal("3.00")  # 12 months: the 1-year LPR of 2025-05-20
    html = client.get(url("application_detail", app.pk)).content.decode()
    with translation.override("zh-hans"):
        assert translation.gettext("indicative rate at approval") in html
    assert "3.00%" in html  # the rate as a percentage (issue 14), not 3.0000


def test_approve_form_refuses_the_investigating_approver_and_other_roles(
    world, client_as, new_application, drive, dual
):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    applications.application_accept(acting_user=dual, application=app, findings="属实")
    assert client_as(dual).get(url("application_approve", app.pk)).status_code == 403
    refused = client_as(dual).post(url("application_approve", app.pk), {"amount": "1", "term_months": "12"})
    assert refused.status_code == 403
    assert client_as(world.officer).get(url("application_approve", app.pk)).status_code == 403
    assert client_as(world.approver).get(url("application_approve", app.pk)).status_code == 200


def test_reject_and_return_from_approval(world, client_as, new_application, drive):
    app = drive(new_application(), State.BANK_APPROVAL)
    client = client_as(world.approver)
    html = client.get(url("application_approve", app.pk)).content.decode()
    assert step_url(app, "reject") in html and step_url(app, "return_to_officer") in html
    r = client.post(step_url(app, "return_to_officer"), {"return_to_officer-comment": "补充照片"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.BANK_ACCEPTANCE


def test_disburse_form_previews_maturity_and_refuses_a_used_number(world, client_as, new_application, drive):
    first = drive(new_application(amount=Decimal("10000.00")), State.DISBURSED)
    used = Loan.objects.get(application=first).contract_no
    app = drive(new_application(amount=Decimal("10000.00"), term_months=12), State.APPROVED)
    assert client_as(world.approver).get(url("application_disburse", app.pk)).status_code == 403
    client = client_as(world.officer)
    r = client.get(url("application_disburse", app.pk))
    assert r.status_code == 200
    today = timezone.localdate()
    assert r.context["maturity"] == today + relativedelta(months=12)

    r = client.post(
        url("application_disburse", app.pk),
        {
            "contract_no": used,
            "receipt_no": "JJ-NEW-1",
            "account_no": "6230 0000 1111 2222",
            "disbursed_on": today.isoformat(),
        },
    )
    assert r.status_code == 409
    assert r.context["form"].errors["contract_no"]
    app.refresh_from_db()
    assert app.state == State.APPROVED


def test_disburse_form_fills_the_account_from_the_application_and_refuses_none(
    world, client_as, new_application, drive
):
    app = drive(new_application(bank_account_no="6230 5201 1234 5678"), State.APPROVED)
    client = client_as(world.officer)
    html = client.get(url("application_disburse", app.pk)).content.decode()
    field = re.search(r'<input[^>]*name="account_no"[^>]*>', html)
    assert field and 'value="6230 5201 1234 5678"' in field.group(0)

    # The officer cleared it: refused next to the field, with the rule's source; nothing written.
    data = {"contract_no": "HT-AC-1", "receipt_no": "JJ-AC-1", "account_no": "", "disbursed_on": "2026-06-17"}
    r = client.post(url("application_disburse", app.pk), data)
    assert r.status_code == 400
    assert "《庙山镇小额扶贫信贷知识》三、6" in " ".join(r.context["form"].errors["account_no"])  # P3 §3.6
    app.refresh_from_db()
    assert app.state == State.APPROVED and not Loan.objects.filter(application=app).exists()

    r = client.post(url("application_disburse", app.pk), {**data, "account_no": "6230 5201 8765 4321"})
    assert r.status_code == 302
    assert Loan.objects.get(application=app).account_no == "6230 5201 8765 4321"


@pytest.mark.today("2026-06-17")
def test_disburse_form_shows_the_contract_rate_and_warns_of_a_stale_lpr_table(
    world, client_as, new_application, drive
):
    from policies.services import rate_create

    app = drive(new_application(term_months=24), State.APPROVED)
    client = client_as(world.officer)
    r = client.get(url("application_disburse", app.pk))
    # 24 months signed today under the LPR basis: the 5-year LPR of 2025-05-20, 3.50.
    assert r.context["contract_rate"].annual_rate == Decimal("3.50")
    html = r.content.decode()
    assert re.search(r'id="contract-rate">3\.50%<', html)
    # The last LPR entered is 2025-05-20, more than a month before today.
    assert r.context["lpr_stale"] == datetime.date(2025, 5, 20)
    assert 'id="rate-stale"' in html and "2025-05-20" in html

    # An administrator enters the 2026-05-20 publication: the warning is gone.
    for tenor, rate in (("lpr1y", "3.00"), ("lpr5y", "3.50")):
        rate_create(
            acting_user=world.admin,
            kind="lpr",
            tenor=tenor,
            effective_from=datetime.date(2026, 5, 20),
            annual_rate=Decimal(rate),
            source="2026-05-20 贷款市场报价利率公告",
        )
    r = client.get(url("application_disburse", app.pk))
    assert r.context["lpr_stale"] is None
    assert 'id="rate-stale"' not in r.content.decode()


# ---------------------------------------------------------------------------------------------
# The whole journey through the pages


def test_full_journey_through_the_pages(world, client_as, household, client):
    client_as(world.cadre)
    r = client.post(url("application_create", household.pk), form_data(household))
    app = LoanApplication.objects.get()
    assert r.url == url("application_detail", app.pk)
    assert client.post(step_url(app, "submit"), {"submit-comment": ""}).status_code == 302
    r = client.post(step_url(app, "village_approve"), {"village_approve-comment": "村两委评议通过"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.PUBLICITY

    board = client.get(url("publicity_board"))
    assert app.pk in {row["app"].pk for row in board.context["rows"]}
    last = max(app.notices.values_list("end_on", flat=True))
    assert applications.publicity_end_due(on_date=last + datetime.timedelta(days=1)) == [app.pk]

    client_as(world.officer)
    assert app.pk in {row["app"].pk for row in client.get(url("acceptance_queue")).context["rows"]}
    r = client.post(
        url("application_accept", app.pk),
        {
            "investigated_on": timezone.localdate().isoformat(),
            "findings": "入户查看牛棚和饲料储备，养殖项目真实",
            "photos": [png("barn.png"), png("cattle.png")],
            "caption": "牛棚",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    app.refresh_from_db()
    assert app.state == State.BANK_APPROVAL and app.investigated_by == world.officer
    photo = app.photos.first()
    assert app.photos.count() == 2
    served = client.get(url("investigation_photo", app.pk, photo.pk))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert client_as(world.other_cadre).get(url("investigation_photo", app.pk, photo.pk)).status_code == 404

    client_as(world.approver)
    r = client.post(
        url("application_approve", app.pk), {"amount": "20000", "term_months": "24", "comment": "同意"}
    )
    assert r.status_code == 302
    client_as(world.officer)
    assert app.pk in {row["app"].pk for row in client.get(url("disbursement_queue")).context["rows"]}
    r = client.post(
        url("application_disburse", app.pk),
        {
            "contract_no": "HT-2025-0001",
            "receipt_no": "JJ-2025-0001",
            "account_no": "6230 0000 1111 2222",
            "disbursed_on": timezone.localdate().isoformat(),
        },
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == State.DISBURSED
    loan = Loan.objects.get(application=app)
    assert loan.amount == Decimal("20000.00")
    # 24 months on 2026-06-17 under the default LPR basis: the 5-year LPR of 2025-05-20.
    assert (loan.rate, loan.rate_basis) == (Decimal("3.50"), "lpr")

    r = client_as(world.cadre).get(url("application_detail", app.pk))
    html = r.content.decode()
    assert "HT-2025-0001" in html and "JJ-2025-0001" in html
    assert [h.to_state for h in r.context["history"]] == [
        State.VILLAGE_REVIEW,
        State.PUBLICITY,
        State.BANK_ACCEPTANCE,
        State.BANK_APPROVAL,
        State.APPROVED,
        State.DISBURSED,
    ]
    assert r.context["steps"] == []


# ---------------------------------------------------------------------------------------------
# Menu and admin


def test_menu_by_role(world, client_as):
    def links(user):
        return {item.href for item in client_as(user).get("/").context["nav_items"]}

    assert {url("application_list"), url("publicity_board")} <= links(world.cadre)
    assert url("acceptance_queue") not in links(world.cadre)
    assert {url("acceptance_queue"), url("disbursement_queue")} <= links(world.officer)
    assert url("approval_queue") not in links(world.officer)
    assert url("approval_queue") in links(world.approver)
    assert url("publicity_board") in links(world.township_officer)


def test_admin_is_read_only(world, client_as, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = client_as(superuser)
    assert client.get(reverse("admin:loans_loanapplication_changelist")).status_code == 200
    r = client.get(reverse("admin:loans_loanapplication_change", args=[app.pk]))
    assert r.status_code == 200
    assert 'name="_save"' not in r.content.decode()
    r = client.post(reverse("admin:loans_loanapplication_change", args=[app.pk]), {"state": State.APPROVED})
    app.refresh_from_db()
    assert app.state == State.VILLAGE_REVIEW
    assert client.get(reverse("admin:loans_loanapplication_add")).status_code == 403


def test_household_page_links_to_a_new_application_for_the_cadre_only(world, client_as, household):
    link = f'href="{url("application_create", household.pk)}"'
    assert (
        link in client_as(world.cadre).get(reverse("households:detail", args=[household.pk])).content.decode()
    )
    for user in (world.officer, world.county_office):
        html = client_as(user).get(reverse("households:detail", args=[household.pk])).content.decode()
        assert link not in html
