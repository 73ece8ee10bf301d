"""The applications and loans part of the public API (API.md): the whole journey through the API
only, who may take which step, the error shapes, eligibility failures and scope."""

import datetime
import io
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm import ConcurrentTransition
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Role
from core.api import exception_handler
from core.models import AuditEvent
from households.models import CreditRating
from loans import steps
from loans.apis import applications as apis
from loans.models import ApplicationHistory, Loan, LoanApplication, Objection, PublicityNotice
from loans.services import applications
from loans.workflow import STEP_LABELS, State
from tests.conftest import moment
from tests.factories import HouseholdFactory, UserFactory

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"message", "code", "extra"}
BASE = "/api/v1/applications/"


def error(response, status: int, code: str) -> dict:
    """Asserts the API.md error shape and answers the body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["extra"], dict)
    return body


def new_body(household, **overrides) -> dict:
    body = {
        "household": household.pk,
        "borrower": household.members.get(is_head=True).pk,
        "amount": "30000.00",
        "term_months": 24,
        "purpose_category": "breeding",
        "purpose_detail": "养殖肉牛 5 头",
        "use_mode": "self",
        "capacity_attested": True,
        "bank_account_no": "6230 0000 1111 2222",
        "consent_publicity": True,
        "consent_credit_query": True,
    }
    body.update(overrides)
    return body


def step(client, app_id: int, name: str, **data):
    return client.post(f"{BASE}{app_id}/transitions/{name}/", data, format="json")


def names(client, app_id: int) -> set[str]:
    r = client.get(f"{BASE}{app_id}/transitions/")
    assert r.status_code == 200, r.content
    return {t["name"] for t in r.json()}


def snapshot(app_id: int) -> dict:
    """What a refused step must leave untouched."""
    app = LoanApplication.objects.get(pk=app_id)
    return {
        "state": app.state,
        "history": ApplicationHistory.objects.filter(application_id=app_id).count(),
        "notices": PublicityNotice.objects.filter(application_id=app_id).count(),
        "loans": Loan.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def officer_approver(world):
    """A branch user holding both bank roles: four-eyes must still keep them off their own case."""
    return UserFactory(username="both", unit=world.br1, roles=[Role.LOAN_OFFICER, Role.APPROVER])


def png(name="field.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# ---------------------------------------------------------------------------------------------
# The journey


def test_the_whole_journey_through_the_api(world, api_as, household):
    cadre, officer, approver = api_as(world.cadre), api_as(world.officer), api_as(world.approver)
    today = timezone.localdate()

    r = cadre.post(BASE, new_body(household), format="json")
    assert r.status_code == 201, r.content
    app = r.json()
    assert {
        "id",
        "household",
        "borrower",
        "amount",
        "term_months",
        "purpose_category",
        "purpose_detail",
        "use_mode",
        "consent_publicity",
        "consent_credit_query",
        "state",
        "history",
    } <= set(app)
    assert app["state"] == "draft" and app["amount"] == "30000.00" and app["term_months"] == 24
    assert app["household"] == household.pk and app["branch"] == world.br1.pk
    assert app["loan"] is None and app["history"] == [] and app["submitted_on"] is None
    pk = app["id"]
    assert names(cadre, pk) == {"submit", "withdraw"}

    r = step(cadre, pk, "submit", comment="材料齐全")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "village_review" and r.json()["submitted_on"] == today.isoformat()

    r = step(cadre, pk, "village_approve")
    assert r.status_code == 200, r.content
    notices = r.json()["notices"]
    assert r.json()["state"] == "publicity"
    assert {n["level"] for n in notices} == {"village", "township", "county"}
    for n in notices:
        assert set(n) >= {"level", "start_on", "end_on", "working_days", "status"}
        assert n["working_days"] == 5 and n["status"] == "running" and n["start_on"] == today.isoformat()

    # The daily task moves it on once the last notice has ended without objection.
    last = max(datetime.date.fromisoformat(n["end_on"]) for n in notices)
    assert applications.publicity_end_due(on_date=last) == []
    assert applications.publicity_end_due(on_date=last + datetime.timedelta(days=1)) == [pk]
    assert cadre.get(f"{BASE}{pk}/").json()["state"] == "bank_acceptance"

    r = step(officer, pk, "accept", findings="实地查看养殖场，情况属实", comment="受理")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "bank_approval" and r.json()["investigated_by"] == world.officer.pk
    assert r.json()["investigation_findings"] == "实地查看养殖场，情况属实"

    r = step(approver, pk, "approve", amount="20000.00", term_months=12, comment="同意")
    assert r.status_code == 200, r.content
    approved = r.json()
    # The default profile prices on the LPR: 12 months → the 1-year LPR in force on 2026-06-17,
    # 3.00 since 2025-05-20. At approval it is indicative; the disbursement fixes it.
    assert approved["state"] == "approved"
    assert approved["approved_amount"] == "20000.00" and approved["approved_term_months"] == 12
    assert (Decimal(approved["rate"]), approved["rate_basis"]) == (Decimal("3.00"), "lpr")

    r = step(officer, pk, "disburse", contract_no="HT-2025-001", receipt_no="JJ-2025-001")
    assert r.status_code == 200, r.content
    done = r.json()
    assert done["state"] == "disbursed" and done["loan"] is not None
    assert [(h["from_state"], h["to_state"], h["by"]) for h in done["history"]] == [
        ("draft", "village_review", world.cadre.pk),
        ("village_review", "publicity", world.cadre.pk),
        ("publicity", "bank_acceptance", None),
        ("bank_acceptance", "bank_approval", world.officer.pk),
        ("bank_approval", "approved", world.approver.pk),
        ("approved", "disbursed", world.officer.pk),
    ]
    for h in done["history"]:
        assert {"from_state", "to_state", "by", "at", "comment"} <= set(h)
    assert done["history"][0]["comment"] == "材料齐全"
    for who in (cadre, officer, approver):
        assert names(who, pk) == set()

    body = officer.get("/api/v1/loans/").json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    loan = body["results"][0]
    assert {
        "id",
        "application",
        "contract_no",
        "amount",
        "rate",
        "disbursed_on",
        "maturity_on",
        "outstanding",
        "classification",
        "days_past_due",
        "state",
    } <= set(loan)
    assert loan["id"] == done["loan"] and loan["application"] == pk
    assert loan["contract_no"] == "HT-2025-001" and loan["receipt_no"] == "JJ-2025-001"
    assert loan["amount"] == "20000.00" and loan["outstanding"] == "20000.00"
    assert (Decimal(loan["rate"]), loan["rate_basis"]) == (Decimal("3.00"), "lpr")
    # No account in the request: the one the application gave.
    assert loan["account_no"] == "6230 0000 1111 2222"
    assert loan["disbursed_on"] == today.isoformat()
    assert loan["maturity_on"] == (today + relativedelta(months=12)).isoformat()
    assert loan["classification"] == "normal" and loan["days_past_due"] == 0 and loan["state"] == "active"
    assert cadre.get(f"/api/v1/loans/{loan['id']}/").json()["contract_no"] == "HT-2025-001"
    assert api_as(world.other_cadre).get("/api/v1/loans/").json()["count"] == 0
    assert api_as(world.other_cadre).get(f"/api/v1/loans/{loan['id']}/").status_code == 404


def test_a_disbursement_with_a_blank_account_is_400_account_missing(world, api_as, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    before = snapshot(app.pk)
    r = step(api_as(world.officer), app.pk, "disburse", contract_no="HT-8", receipt_no="JJ-8", account_no=" ")
    body = error(r, 400, "account_missing")
    assert body["extra"]["fields"] == {"account_no": [body["message"]]}
    assert body["extra"]["source"] == "P3 §3.6"
    assert snapshot(app.pk) == before

    r = step(
        api_as(world.officer),
        app.pk,
        "disburse",
        contract_no="HT-8",
        receipt_no="JJ-8",
        account_no="6230 7777",
    )
    assert r.status_code == 200, r.content
    assert Loan.objects.get(application_id=app.pk).account_no == "6230 7777"


@pytest.mark.today("2019-08-19")
def test_a_disbursement_through_the_api_fixes_the_contract_days_rate(
    world, api_as, new_application, drive, pinned_clock
):
    """Approved on 2019-08-19 (before the LPR: benchmark 4.75 for 24 months, indicative), signed on
    2019-08-20: the first 5-year LPR, 4.85."""
    app = drive(new_application(term_months=24), State.APPROVED)
    assert (app.rate, app.rate_basis) == (Decimal("4.75"), "benchmark")
    pinned_clock.move_to(moment("2019-08-20"))
    r = step(api_as(world.officer), app.pk, "disburse", contract_no="HT-7", receipt_no="JJ-7")
    assert r.status_code == 200, r.content
    assert (Decimal(r.json()["rate"]), r.json()["rate_basis"]) == (Decimal("4.75"), "benchmark")
    loan = api_as(world.officer).get(f"/api/v1/loans/{r.json()['loan']}/").json()
    assert (loan["disbursed_on"], Decimal(loan["rate"]), loan["rate_basis"]) == (
        "2019-08-20",
        Decimal("4.85"),
        "lpr",
    )


def test_a_disbursement_dated_before_the_approval_is_400_on_its_field(world, api_as, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    before = snapshot(app.pk)
    on = timezone.localdate() - datetime.timedelta(days=3)
    r = step(
        api_as(world.officer), app.pk, "disburse", contract_no="HT-9", receipt_no="JJ-9", disbursed_on=str(on)
    )
    body = error(r, 400, "invalid")
    assert body["extra"]["fields"] == {"disbursed_on": [body["message"]]}
    assert snapshot(app.pk) == before


# ---------------------------------------------------------------------------------------------
# Who may take which step


def test_transitions_list_differs_per_user(world, api_as, new_application, drive, approver2):
    draft = new_application()
    assert names(api_as(world.cadre), draft.pk) == {"submit", "withdraw"}
    for user in (world.township_officer, world.county_office):
        assert names(api_as(user), draft.pk) == set()
    # The bank does not see a draft at all.
    for user in (world.officer, world.approver):
        assert api_as(user).get(f"{BASE}{draft.pk}/transitions/").status_code == 404

    r = api_as(world.cadre).get(f"{BASE}{draft.pk}/transitions/")
    submit = next(t for t in r.json() if t["name"] == "submit")
    assert set(submit) == {"name", "label", "target", "target_display"}
    assert submit["target"] == "village_review" and submit["label"]

    app = drive(draft, State.PUBLICITY)
    assert names(api_as(world.cadre), app.pk) == {"withdraw", "object"}
    assert names(api_as(world.township_officer), app.pk) == {"object"}
    assert names(api_as(world.county_office), app.pk) == {"object"}
    assert names(api_as(world.officer), app.pk) == set()

    app = drive(app, State.BANK_ACCEPTANCE)
    assert names(api_as(world.officer), app.pk) == {"accept", "decline"}
    assert names(api_as(world.cadre), app.pk) == {"withdraw"}
    assert names(api_as(world.approver), app.pk) == set()

    app = drive(app, State.BANK_APPROVAL)
    assert names(api_as(world.approver), app.pk) == {"approve", "reject", "return_to_officer"}
    assert names(api_as(approver2), app.pk) == {"approve", "reject", "return_to_officer"}
    assert names(api_as(world.officer), app.pk) == set()
    assert names(api_as(world.cadre), app.pk) == set()

    app = drive(app, State.APPROVED)
    assert names(api_as(world.officer), app.pk) == {"disburse"}
    assert names(api_as(world.approver), app.pk) == set()


def test_the_investigating_officer_never_sees_or_takes_the_approval(
    world, api_as, new_application, drive, officer_approver, approver2
):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    both = api_as(officer_approver)
    assert names(both, app.pk) == {"accept", "decline"}
    assert step(both, app.pk, "accept", findings="入户核实").status_code == 200

    # Holding the approver role does not let them approve the case they investigated.
    assert names(both, app.pk) == set()
    assert names(api_as(approver2), app.pk) == {"approve", "reject", "return_to_officer"}
    before = snapshot(app.pk)
    error(step(both, app.pk, "approve"), 403, "four_eyes")
    assert snapshot(app.pk) == before
    r = step(api_as(approver2), app.pk, "approve")
    assert r.status_code == 200 and r.json()["approved_by"] == approver2.pk


# ---------------------------------------------------------------------------------------------
# Errors, each in the one shape


def test_unknown_step_is_404(world, api_as, new_application):
    app = new_application()
    error(step(api_as(world.cadre), app.pk, "teleport"), 404, "not_found")
    # end_publicity belongs to the daily task; it is not a step anybody posts.
    error(step(api_as(world.cadre), app.pk, "end_publicity"), 404, "not_found")
    error(step(api_as(world.cadre), 999999, "submit"), 404, "not_found")


def test_wrong_role_is_403_and_changes_nothing(world, api_as, new_application, drive):
    app = new_application()
    before = snapshot(app.pk)
    error(step(api_as(world.officer), app.pk, "submit"), 404, "not_found")
    error(step(api_as(world.township_officer), app.pk, "submit"), 403, "permission_denied")
    assert snapshot(app.pk) == before

    app = drive(app, State.BANK_APPROVAL)
    before = snapshot(app.pk)
    error(step(api_as(world.cadre), app.pk, "approve"), 403, "permission_denied")
    error(step(api_as(world.officer), app.pk, "reject", comment="不行"), 403, "permission_denied")
    assert snapshot(app.pk) == before


def test_a_step_not_allowed_from_the_state_is_409(world, api_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    before = snapshot(app.pk)
    body = error(step(api_as(world.cadre), app.pk, "submit"), 409, "transition_not_allowed")
    assert body["extra"] == {"state": "publicity", "transition": "submit"}
    error(step(api_as(world.cadre), app.pk, "send_back", comment="补材料"), 409, "transition_not_allowed")
    assert snapshot(app.pk) == before

    app = drive(app, State.BANK_ACCEPTANCE)
    before = snapshot(app.pk)
    r = step(api_as(world.officer), app.pk, "disburse", contract_no="HT-1", receipt_no="JJ-1")
    error(r, 409, "transition_not_allowed")
    assert snapshot(app.pk) == before

    # Editing is for drafts only.
    r = api_as(world.cadre).patch(f"{BASE}{app.pk}/", {"amount": "1000.00"}, format="json")
    error(r, 409, "transition_not_allowed")


def test_malformed_step_bodies_are_400_invalid(world, api_as, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    officer = api_as(world.officer)
    body = error(step(officer, app.pk, "decline"), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"comment"}
    body = error(step(officer, app.pk, "decline", comment="   "), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"comment"}
    body = error(step(officer, app.pk, "accept", investigated_on="yesterday"), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"findings", "investigated_on"}

    app = drive(app, State.BANK_APPROVAL)
    body = error(step(api_as(world.approver), app.pk, "approve", amount="lots"), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"amount"}
    # Above the amount requested: the service's own code, on the amount.
    error(step(api_as(world.approver), app.pk, "approve", amount="40000.00"), 400, "rule_failed")

    app = drive(app, State.APPROVED)
    before = snapshot(app.pk)
    body = error(step(officer, app.pk, "disburse", contract_no="HT-1"), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"receipt_no"}
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    r = step(officer, app.pk, "disburse", contract_no="HT-1", receipt_no="JJ-1", disbursed_on=str(tomorrow))
    body = error(r, 400, "invalid")
    assert set(body["extra"]["fields"]) == {"disbursed_on"}
    assert snapshot(app.pk) == before


def test_a_contract_number_already_used_is_409(world, api_as, household, new_application, drive):
    first = drive(new_application(amount=Decimal("10000.00")), State.DISBURSED)
    number = first.loan.contract_no
    second = drive(new_application(amount=Decimal("10000.00")), State.APPROVED)
    before = snapshot(second.pk)
    r = step(api_as(world.officer), second.pk, "disburse", contract_no=number, receipt_no="JJ-NEW")
    error(r, 409, "duplicate_number")
    assert snapshot(second.pk) == before


def test_an_eligibility_failure_at_submit_is_rule_failed_with_the_rule_codes(
    world, api_as, household, new_application
):
    CreditRating.objects.filter(household=household).update(credit_limit=Decimal("20000.00"))
    app = new_application(amount=Decimal("30000.00"))
    before = snapshot(app.pk)
    body = error(step(api_as(world.cadre), app.pk, "submit"), 400, "rule_failed")
    rules = body["extra"]["rules"]
    assert [r["rule"] for r in rules] == ["credit_line"]
    assert set(rules[0]) == {"rule", "message", "source"}
    assert "20,000.00" in rules[0]["message"] and rules[0]["source"]
    assert snapshot(app.pk) == before

    # Several broken rules come back together.
    app = new_application(amount=Decimal("60000.00"), purpose_category="house_building")
    body = error(step(api_as(world.cadre), app.pk, "submit"), 400, "rule_failed")
    codes = {r["rule"] for r in body["extra"]["rules"]}
    assert {"amount_range", "credit_line", "productive_purpose", "forbidden_purpose"} <= codes


def test_publicity_needs_both_consents(world, api_as, new_application, drive):
    app = drive(new_application(consent_publicity=False), State.VILLAGE_REVIEW)
    body = error(step(api_as(world.cadre), app.pk, "village_approve"), 400, "rule_failed")
    assert [r["rule"] for r in body["extra"]["rules"]] == ["consent_publicity"]


def test_concurrent_transition_and_fsm_refusal_map_to_409():
    response = exception_handler(ConcurrentTransition("changed"), {})
    assert response.status_code == 409
    assert set(response.data) == ERROR_KEYS and response.data["code"] == "conflict"
    from django_fsm import TransitionNotAllowed

    response = exception_handler(TransitionNotAllowed("no"), {})
    assert response.status_code == 409 and response.data["code"] == "transition_not_allowed"


def test_every_service_step_has_an_input_shape():
    assert {step.takes for step in steps.STEPS.values()} == set(apis.STEP_INPUTS)
    assert set(STEP_LABELS) == set(steps.STEPS) | {"object", "end_publicity"}


def test_not_authenticated_is_401(world, new_application):
    app = new_application()
    client = APIClient()
    error(client.get(BASE), 401, "not_authenticated")
    error(step(client, app.pk, "submit"), 401, "not_authenticated")


# ---------------------------------------------------------------------------------------------
# Creating and editing drafts


def test_create_is_for_the_households_village_cadre(world, api_as, household):
    error(api_as(world.officer).post(BASE, new_body(household), format="json"), 403, "permission_denied")
    r = api_as(world.township_officer).post(BASE, new_body(household), format="json")
    error(r, 403, "permission_denied")

    # A cadre of another village, even in the same township, cannot see the household.
    other_cadre = UserFactory(username="cadre_v1b", unit=world.v1b, roles=[Role.VILLAGE_CADRE])
    body = error(api_as(other_cadre).post(BASE, new_body(household), format="json"), 400, "invalid")
    assert set(body["extra"]["fields"]) == {"household", "borrower"}
    body = error(api_as(world.other_cadre).post(BASE, new_body(household), format="json"), 400, "invalid")
    assert "household" in body["extra"]["fields"]
    assert LoanApplication.objects.count() == 0


def test_create_checks_the_shape(world, api_as, household):
    cadre = api_as(world.cadre)
    neighbour = HouseholdFactory(village=world.v1a)
    r = cadre.post(BASE, new_body(household, borrower=neighbour.members.get().pk), format="json")
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"borrower"}
    r = cadre.post(BASE, new_body(household, purpose_category="gambling", term_months=0), format="json")
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"purpose_category", "term_months"}
    r = cadre.post(BASE, new_body(household, amount="-5.00"), format="json")
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"amount"}
    r = cadre.post(BASE, {}, format="json")
    assert {"household", "borrower", "amount", "term_months", "purpose_category"} <= set(
        error(r, 400, "invalid")["extra"]["fields"]
    )
    assert LoanApplication.objects.count() == 0
    # A forbidden purpose is a valid choice: the draft is kept and the rule answers at submission.
    r = cadre.post(BASE, new_body(household, purpose_category="house_building"), format="json")
    assert r.status_code == 201


def test_patch_edits_a_draft(world, api_as, household, new_application):
    app = new_application()
    spouse = HouseholdFactory(village=world.v1a).members.get()  # another household's member
    cadre = api_as(world.cadre)
    r = cadre.patch(f"{BASE}{app.pk}/", {"amount": "25000.00", "term_months": 12}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["amount"] == "25000.00" and r.json()["term_months"] == 12
    assert r.json()["household"] == household.pk
    r = cadre.patch(f"{BASE}{app.pk}/", {"borrower": spouse.pk}, format="json")
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"borrower"}
    r = api_as(world.township_officer).patch(f"{BASE}{app.pk}/", {"amount": "1.00"}, format="json")
    error(r, 403, "permission_denied")
    assert LoanApplication.objects.get(pk=app.pk).amount == Decimal("25000.00")


# ---------------------------------------------------------------------------------------------
# Lists and scope


def test_list_is_scoped_filtered_and_paginated(world, api_as, household, new_application, drive):
    draft = new_application(amount=Decimal("5000.00"))
    moving = drive(new_application(amount=Decimal("5000.00")), State.VILLAGE_REVIEW)
    cadre = api_as(world.cadre)
    body = cadre.get(BASE).json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 2
    row = body["results"][0]
    assert row["id"] == moving.pk and row["state_display"] and row["borrower_name"]
    assert "history" not in row
    assert [r["id"] for r in cadre.get(f"{BASE}?state=draft").json()["results"]] == [draft.pk]
    assert cadre.get(f"{BASE}?household={household.pk}").json()["count"] == 2
    assert cadre.get(f"{BASE}?page_size=1").json()["next"]
    assert set(error(cadre.get(f"{BASE}?state=bogus"), 400, "invalid")["extra"]["fields"]) == {"state"}
    # The branch serving the township sees the submitted one (not the draft); the other branch none.
    assert [r["id"] for r in api_as(world.officer).get(BASE).json()["results"]] == [moving.pk]
    other_branch = UserFactory(username="officer2", unit=world.br2, roles=[Role.LOAN_OFFICER])
    assert api_as(other_branch).get(BASE).json()["count"] == 0


def test_list_queries_do_not_grow_with_rows(world, api_as, new_application, drive):
    cadre = api_as(world.cadre)
    drive(new_application(amount=Decimal("1000.00")), State.DISBURSED)
    with CaptureQueriesContext(connection) as one:
        assert cadre.get(BASE).status_code == 200
    for _ in range(3):
        new_application(amount=Decimal("1000.00"))
    with CaptureQueriesContext(connection) as four:
        assert cadre.get(BASE).json()["count"] == 4
    assert len(four) == len(one)


def test_another_countys_cadre_sees_nothing(world, api_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    other = api_as(world.other_cadre)
    assert other.get(BASE).json() == {"count": 0, "next": None, "previous": None, "results": []}
    before = snapshot(app.pk)
    error(other.get(f"{BASE}{app.pk}/"), 404, "not_found")
    error(other.patch(f"{BASE}{app.pk}/", {"amount": "1.00"}, format="json"), 404, "not_found")
    error(other.get(f"{BASE}{app.pk}/transitions/"), 404, "not_found")
    error(step(other, app.pk, "withdraw", comment="x"), 404, "not_found")
    error(step(other, app.pk, "object", text="x"), 404, "not_found")
    error(other.post(f"{BASE}{app.pk}/objections/", {"text": "有问题"}, format="json"), 404, "not_found")
    error(other.get(f"{BASE}{app.pk}/objections/"), 404, "not_found")
    error(other.get(f"{BASE}{app.pk}/photos/"), 404, "not_found")
    assert snapshot(app.pk) == before


# ---------------------------------------------------------------------------------------------
# Objections and photos


def test_an_objection_suspends_publicity(world, api_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    error(
        api_as(world.officer).post(f"{BASE}{app.pk}/objections/", {"text": "x"}, format="json"),
        403,
        "permission_denied",
    )
    r = api_as(world.township_officer).post(
        f"{BASE}{app.pk}/objections/", {"objector": "村民甲"}, format="json"
    )
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"text"}

    r = api_as(world.township_officer).post(
        f"{BASE}{app.pk}/objections/", {"text": "该户已外出务工，不养牛", "objector": "村民甲"}, format="json"
    )
    assert r.status_code == 201, r.content
    objection = r.json()
    assert objection["text"] == "该户已外出务工，不养牛" and objection["objector"] == "村民甲"
    assert objection["raised_by"] == world.township_officer.pk and objection["application"] == app.pk
    assert objection["notice"] == PublicityNotice.objects.get(application=app, level="township").pk

    detail = api_as(world.cadre).get(f"{BASE}{app.pk}/").json()
    assert detail["state"] == "village_review"
    assert {n["status"] for n in detail["notices"]} == {"suspended"}
    assert [o["id"] for o in detail["objections"]] == [objection["id"]]
    assert api_as(world.cadre).get(f"{BASE}{app.pk}/objections/").json()["count"] == 1

    # Not in publicity any more: a second objection is refused.
    r = api_as(world.county_office).post(f"{BASE}{app.pk}/objections/", {"text": "再议"}, format="json")
    error(r, 409, "transition_not_allowed")
    assert Objection.objects.count() == 1


def test_object_through_the_transitions_route(world, api_as, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    r = step(api_as(world.county_office), app.pk, "object", text="金额与养殖规模不符")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "village_review" and len(r.json()["objections"]) == 1


def test_investigation_photos(world, api_as, new_application, drive, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    app = drive(new_application(), State.VILLAGE_REVIEW)
    url = f"{BASE}{app.pk}/photos/"
    error(
        api_as(world.officer).post(url, {"image": png()}, format="multipart"), 409, "transition_not_allowed"
    )
    app = drive(app, State.BANK_ACCEPTANCE)
    error(api_as(world.cadre).post(url, {"image": png()}, format="multipart"), 403, "permission_denied")
    r = api_as(world.officer).post(url, {"image": io.BytesIO(b"not an image")}, format="multipart")
    assert set(error(r, 400, "invalid")["extra"]["fields"]) == {"image"}

    r = api_as(world.officer).post(url, {"image": png(), "caption": "牛棚"}, format="multipart")
    assert r.status_code == 201, r.content
    assert r.json()["caption"] == "牛棚" and r.json()["image"].endswith(".png")
    assert api_as(world.cadre).get(url).json()["count"] == 1
    assert len(api_as(world.cadre).get(f"{BASE}{app.pk}/").json()["photos"]) == 1


def test_the_schema_describes_the_application_routes(world, client_as):
    body = client_as(world.admin).get("/api/schema/").content.decode()
    for path in (
        "/api/v1/applications/",
        "/api/v1/applications/{id}/",
        "/api/v1/applications/{id}/transitions/",
        "/api/v1/applications/{id}/transitions/{name}/",
        "/api/v1/applications/{id}/objections/",
        "/api/v1/loans/",
    ):
        assert path in body
