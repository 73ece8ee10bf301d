"""Changes after disbursement: extension, renewal, additional loans, malicious default, borrower
events and insurance. Every limit is tried with the input that breaks it."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from households.models import BlacklistEntry
from loans.choices import Classification
from loans.models import (
    BorrowerEvent,
    ClassificationChange,
    Extension,
    InsurancePolicy,
    Loan,
    LoanApplication,
)
from loans.services import borrowers, changes
from loans.workflow import State
from policies.models import PolicyProfile
from tests.factories import HouseholdFactory, UserFactory
from tests.loans.test_settlements import make_loan

D = datetime.date


def rules(error: ApplicationError) -> set[str]:
    return {r["rule"] for r in error.extra["rules"]}


def set_profile(world, **values):
    PolicyProfile.objects.filter(pk=world.profile.pk).update(**values)


@pytest.fixture
def loan(world, household):
    return make_loan(household, world)


def request_ext(world, loan, months=6, **kw):
    return changes.extension_request(
        acting_user=world.officer, loan=loan, months=months, reason="洪灾减产", **kw
    )


# ---- extension ---------------------------------------------------------------------------------


def test_extension_request_and_approval_moves_maturity(world, loan):
    ext = request_ext(world, loan, months=12)
    assert ext.status == Extension.Status.REQUESTED
    assert ext.new_maturity_on == D(2027, 1, 10)
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True, comment="同意")
    loan.refresh_from_db()
    assert loan.maturity_on == D(2027, 1, 10)
    assert loan.state == Loan.State.EXTENDED
    assert loan.classification == Classification.SPECIAL_MENTION
    change = ClassificationChange.objects.get(loan=loan)
    assert (change.from_class, change.to_class, change.by) == ("normal", "special_mention", world.approver)
    assert AuditEvent.objects.filter(action="loan.extension_approve", object_id=str(loan.pk)).exists()


def test_extension_keeps_a_worse_classification(world, household):
    loan = make_loan(household, world, classification=Classification.DOUBTFUL)
    ext = request_ext(world, loan)
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True)
    loan.refresh_from_db()
    assert loan.classification == Classification.DOUBTFUL
    assert not ClassificationChange.objects.filter(loan=loan).exists()


def test_rejected_extension_leaves_the_loan(world, loan):
    ext = request_ext(world, loan)
    with pytest.raises(ApplicationError) as e:
        changes.extension_decide(acting_user=world.approver, extension=ext, approve=False, comment="")
    assert (e.value.code, e.value.field) == ("invalid", "comment")
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=False, comment="理由不充分")
    loan.refresh_from_db()
    assert (loan.state, loan.maturity_on) == (Loan.State.ACTIVE, D(2026, 1, 10))
    # A rejected request does not use up the one extension.
    request_ext(world, loan)


def test_second_extension_is_refused(world, loan):
    ext = request_ext(world, loan)
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True)
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan, months=1)
    assert "extension_once" in rules(e.value)


def test_pending_extension_blocks_a_second_request(world, loan):
    request_ext(world, loan)
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan)
    assert rules(e.value) == {"extension_once"}


def test_one_year_loan_extends_at_most_twelve_months(world, household):
    loan = make_loan(household, world, term_months=12, maturity_on=D(2025, 1, 10))
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan, months=13)
    assert rules(e.value) == {"extension_length"}
    assert request_ext(world, loan, months=12).months == 12


def test_longer_loan_extends_at_most_half_its_term(world, household):
    loan = make_loan(household, world, term_months=24)
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan, months=13)
    assert rules(e.value) == {"extension_length"}
    loan36 = make_loan(household, world, term_months=36, maturity_on=D(2027, 1, 10))
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan36, months=19)
    assert rules(e.value) == {"extension_length"}
    assert request_ext(world, loan36, months=18).months == 18


def test_entrusted_and_indirect_loans_are_not_extended(world, household):
    for mode in ("entrusted", "indirect"):
        loan = make_loan(household, world, use_mode=mode)
        with pytest.raises(ApplicationError) as e:
            request_ext(world, loan)
        assert rules(e.value) == {"cooperative_loan"}


def test_blacklisted_household_gets_no_extension(world, loan):
    BlacklistEntry.objects.create(household=loan.household, reason="恶意逃债", added_by=world.county_office)
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan)
    assert rules(e.value) == {"credit_record"}


def test_household_no_longer_meeting_the_conditions(world, household, loan):
    type(household).objects.filter(pk=household.pk).update(poverty_status="monitored_edge")
    loan.household.refresh_from_db()
    set_profile(world, allow_monitored_households=False)
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan)
    assert rules(e.value) == {"registered_poor"}


def test_settled_loan_is_not_extended(world, household):
    loan = make_loan(household, world, state=Loan.State.SETTLED, outstanding=Decimal("0"))
    with pytest.raises(ApplicationError) as e:
        request_ext(world, loan)
    assert rules(e.value) == {"loan_open"}


def test_extension_roles(world, loan):
    with pytest.raises(NotPermitted):
        changes.extension_request(acting_user=world.approver, loan=loan, months=3, reason="x")
    ext = request_ext(world, loan)
    with pytest.raises(NotPermitted):
        changes.extension_decide(acting_user=world.officer, extension=ext, approve=True)


def test_extension_four_eyes_in_the_service(world, loan):
    from accounts.models import Role

    both = UserFactory(username="both", unit=world.br1, roles=[Role.LOAN_OFFICER, Role.APPROVER])
    ext = changes.extension_request(acting_user=both, loan=loan, months=6, reason="洪灾减产")
    with pytest.raises(NotPermitted) as e:
        changes.extension_decide(acting_user=both, extension=ext, approve=True)
    assert e.value.code == "four_eyes"
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True)
    with pytest.raises(ConflictError):
        changes.extension_decide(acting_user=world.approver, extension=ext, approve=True)


def test_extension_four_eyes_in_the_database(world, loan):
    ext = request_ext(world, loan)
    with pytest.raises(IntegrityError), transaction.atomic():
        Extension.objects.filter(pk=ext.pk).update(decided_by=world.officer)


# ---- renewal -------------------------------------------------------------------------------------


def start_renewal(world, loan, **kw):
    values = dict(
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )
    values.update(kw)
    return changes.renewal_start(acting_user=world.cadre, loan=loan, **values)


def test_renewal_through_the_workflow_replaces_the_old_loan(world, loan, drive):
    app = start_renewal(world, loan)
    assert (app.kind, app.related_loan, app.amount) == ("renewal", loan, Decimal("30000.00"))
    # The household's cap does not count the renewed loan twice: 30,000 + 30,000 > 50,000.
    app = drive(app, State.DISBURSED)
    new = Loan.objects.get(application=app)
    old = Loan.objects.get(pk=loan.pk)
    assert new.original_loan == old
    assert (old.state, old.outstanding, old.settled_on) == (Loan.State.SETTLED, 0, new.disbursed_on)
    event = AuditEvent.objects.get(action="loan.renewal_replace", object_id=str(old.pk))
    assert event.data["replaced_by"] == new.pk
    assert event.data["outstanding_replaced"] == "30000.00"


def test_second_renewal_is_refused_and_chain_root_is_the_first_loan(world, loan, drive):
    app = drive(start_renewal(world, loan), State.DISBURSED)
    renewed = Loan.objects.get(application=app)
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, renewed)
    assert rules(e.value) == {"renewal_once"}
    # Where a county allows two, the third loan still points at the first.
    set_profile(world, renewal_max_count=2)
    app2 = drive(start_renewal(world, renewed), State.DISBURSED)
    third = Loan.objects.get(application=app2)
    assert third.original_loan_id == loan.pk
    assert changes.chain_root(third) == loan


def test_renewal_in_flight_blocks_a_second(world, loan):
    start_renewal(world, loan)
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, loan)
    assert rules(e.value) == {"renewal_once"}


def test_renewal_term_at_most_36_months(world, loan):
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, loan, term_months=37)
    assert rules(e.value) == {"renewal_term"}
    assert start_renewal(world, loan, term_months=36).term_months == 36


def test_renewal_amount_at_most_the_outstanding(world, loan):
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, loan, amount=Decimal("30000.01"))
    assert rules(e.value) == {"renewal_amount"}


def test_entrusted_loan_is_not_renewed(world, household):
    loan = make_loan(household, world, use_mode="entrusted")
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, loan)
    assert rules(e.value) == {"cooperative_loan"}


def test_blacklisted_household_gets_no_renewal(world, loan):
    BlacklistEntry.objects.create(household=loan.household, reason="恶意逃债", added_by=world.county_office)
    with pytest.raises(ApplicationError) as e:
        start_renewal(world, loan)
    assert rules(e.value) == {"credit_record"}


def test_blacklisted_after_start_stops_the_renewal_in_the_workflow(world, loan, drive):
    app = start_renewal(world, loan)
    borrowers.loan_mark_malicious_default(acting_user=world.officer, loan=loan, reason="拒不还款，转移财产")
    with pytest.raises(ApplicationError) as e:
        drive(app, State.VILLAGE_REVIEW)
    assert "credit_record" in rules(e.value)


def test_renewal_only_by_the_village_cadre(world, loan):
    with pytest.raises(NotPermitted):
        changes.renewal_start(acting_user=world.officer, loan=loan, term_months=24)


def test_old_loan_settled_before_renewal_disbursement(world, loan, drive):
    app = drive(start_renewal(world, loan), State.APPROVED)
    Loan.objects.filter(pk=loan.pk).update(state=Loan.State.SETTLED, outstanding=0)
    with pytest.raises(ApplicationError) as e:
        drive(app, State.DISBURSED)
    assert "loan_open" in rules(e.value)
    assert not Loan.objects.filter(application=app).exists()


# ---- additional loans ----------------------------------------------------------------------------


def start_additional(world, loan, amount):
    return changes.additional_start(
        acting_user=world.cadre,
        loan=loan,
        amount=Decimal(amount),
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )


def test_additional_loan_within_the_household_cap(world, loan, drive):
    app = start_additional(world, loan, "20000.00")
    assert (app.kind, app.related_loan, app.borrower) == ("additional", loan, loan.borrower)
    app = drive(app, State.DISBURSED)
    assert Loan.objects.get(pk=loan.pk).state == Loan.State.ACTIVE


def test_additional_loan_above_the_household_cap(world, loan, drive):
    app = start_additional(world, loan, "20000.01")
    with pytest.raises(ApplicationError) as e:
        drive(app, State.VILLAGE_REVIEW)
    assert "amount_cap_household" in rules(e.value)


# ---- malicious default ----------------------------------------------------------------------------


def test_malicious_default_blacklists_and_blocks_new_applications(world, loan, new_application, drive):
    entry = borrowers.loan_mark_malicious_default(acting_user=world.officer, loan=loan, reason="恶意逃债")
    assert (entry.household, entry.added_by, entry.reason) == (loan.household, world.officer, "恶意逃债")
    assert AuditEvent.objects.filter(action="loan.malicious_default", object_id=str(loan.pk)).exists()
    app = new_application(amount=Decimal("10000.00"))
    with pytest.raises(ApplicationError) as e:
        drive(app, State.VILLAGE_REVIEW)
    assert "credit_record" in rules(e.value)
    with pytest.raises(ConflictError):
        borrowers.loan_mark_malicious_default(acting_user=world.officer, loan=loan, reason="再次")


def test_malicious_default_needs_a_keeper_and_a_reason(world, loan):
    with pytest.raises(NotPermitted):
        borrowers.loan_mark_malicious_default(acting_user=world.cadre, loan=loan, reason="x")
    with pytest.raises(ApplicationError) as e:
        borrowers.loan_mark_malicious_default(acting_user=world.officer, loan=loan, reason=" ")
    assert (e.value.code, e.value.field) == ("invalid", "reason")
    assert not BlacklistEntry.objects.exists()


# ---- death, disability and insurance --------------------------------------------------------------


def add_policy(world, loan, **kw):
    values = dict(
        kind=InsurancePolicy.Kind.ACCIDENT,
        insurer="人保财险",
        policy_no="PA-001",
        premium=Decimal("50.00"),
        starts_on=D(2024, 1, 10),
        ends_on=D(2026, 1, 10),
        fiscal_paid=True,
    )
    values.update(kw)
    return borrowers.insurance_policy_add(acting_user=world.officer, loan=loan, **values)


def test_insurance_payouts_never_exceed_the_loan(world, loan):
    policy = add_policy(world, loan)
    pay = dict(acting_user=world.officer, policy=policy, paid_on=D(2025, 6, 1), reason="借款人意外身故")
    borrowers.insurance_payout_record(amount=Decimal("20000.00"), **pay)
    with pytest.raises(ApplicationError) as e:
        borrowers.insurance_payout_record(amount=Decimal("10000.01"), **pay)
    assert rules(e.value) == {"payout_within_loan"}
    borrowers.insurance_payout_record(amount=Decimal("10000.00"), **pay)
    for bad in ("0", "-1", "1.001"):
        with pytest.raises(ApplicationError) as e:
            borrowers.insurance_payout_record(amount=Decimal(bad), **pay)
        assert (e.value.code, e.value.field) == ("invalid", "amount")
    with pytest.raises(ApplicationError) as e:
        borrowers.insurance_payout_record(amount=Decimal("1"), **{**pay, "paid_on": D(2023, 1, 1)})
    assert (e.value.code, e.value.field) == ("invalid", "paid_on")


def test_insurance_policy_rules(world, loan):
    add_policy(world, loan)
    with pytest.raises(ConflictError):
        add_policy(world, loan)
    with pytest.raises(ApplicationError) as e:
        add_policy(world, loan, policy_no="PA-002", ends_on=D(2024, 1, 10))
    assert (e.value.code, e.value.field) == ("invalid", "ends_on")
    with pytest.raises(NotPermitted):
        borrowers.insurance_policy_add(
            acting_user=world.cadre,
            loan=loan,
            kind="accident",
            insurer="x",
            policy_no="y",
            premium=1,
            starts_on=D(2024, 1, 1),
            ends_on=D(2025, 1, 1),
        )


def test_borrower_event_once_and_not_in_the_future(world, loan):
    member = loan.borrower
    event = borrowers.borrower_event_record(
        acting_user=world.officer, member=member, kind="death", occurred_on=D(2025, 5, 1), note="因病去世"
    )
    assert BorrowerEvent.objects.get() == event
    with pytest.raises(ConflictError):
        borrowers.borrower_event_record(
            acting_user=world.officer, member=member, kind="death", occurred_on=D(2025, 5, 1)
        )
    with pytest.raises(ApplicationError) as e:
        borrowers.borrower_event_record(
            acting_user=world.officer,
            member=member,
            kind="disability",
            occurred_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    assert (e.value.code, e.value.field) == ("invalid", "occurred_on")
    other = HouseholdFactory(village=world.vz).members.get()
    with pytest.raises(NotPermitted):
        borrowers.borrower_event_record(
            acting_user=world.officer, member=other, kind="death", occurred_on=D(2025, 1, 1)
        )


# ---- API and pages -------------------------------------------------------------------------------


def test_api_extension_request_and_decide(world, loan, client):
    client.force_login(world.officer)
    url = f"/api/v1/loans/{loan.pk}/extensions/"
    r = client.post(url, {"months": 13, "reason": "灾害"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "rule_failed"
    r = client.post(url, {"months": 6, "reason": "灾害"}, content_type="application/json")
    assert r.status_code == 201, r.content
    ext_id = r.json()["id"]
    decide = f"/api/v1/extensions/{ext_id}/decide/"
    assert client.post(decide, {"approve": True}, content_type="application/json").status_code == 403
    client.force_login(world.approver)
    r = client.post(decide, {"approve": True, "comment": "同意"}, content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "approved"


def test_api_scope_and_roles(world, loan, client):
    client.force_login(world.other_cadre)
    url = f"/api/v1/loans/{loan.pk}/renewals/"
    assert client.post(url, {"term_months": 24}, content_type="application/json").status_code == 404
    client.force_login(world.officer)
    assert client.post(url, {"term_months": 24}, content_type="application/json").status_code == 403
    client.force_login(world.cadre)
    r = client.post(
        url,
        {
            "term_months": 24,
            "bank_account_no": "6230",
            "consent_publicity": True,
            "consent_credit_query": True,
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "renewal"


def test_pages(world, loan, client):
    client.force_login(world.officer)
    url = reverse("loans:change_extension_request", args=[loan.pk])
    assert client.get(url).status_code == 200
    r = client.post(url, {"months": 13, "reason": "灾害"})
    assert r.status_code == 400
    r = client.post(url, {"months": 6, "reason": "灾害"})
    assert r.status_code == 302
    assert client.get(reverse("loans:change_insurance", args=[loan.pk])).status_code == 200
    assert client.get(reverse("loans:change_event", args=[loan.pk])).status_code == 200
    assert client.get(reverse("loans:change_malicious_default", args=[loan.pk])).status_code == 200
    r = client.post(
        reverse("loans:change_insurance", args=[loan.pk]),
        {
            "kind": "accident",
            "insurer": "人保财险",
            "policy_no": "PA-9",
            "premium": "50",
            "starts_on": "2024-01-10",
            "ends_on": "2026-01-10",
        },
    )
    assert r.status_code == 302
    payout_url = reverse("loans:change_insurance_payout", args=[InsurancePolicy.objects.get().pk])
    r = client.post(payout_url, {"amount": "30000.01", "paid_on": "2025-06-01", "reason": "身故"})
    assert r.status_code == 400
    r = client.post(payout_url, {"amount": "30000.00", "paid_on": "2025-06-01", "reason": "身故"})
    assert r.status_code == 302
    assert "30,000.00" in client.get(reverse("loans:change_insurance", args=[loan.pk])).content.decode()
    assert client.get(reverse("loans:change_extension_queue")).status_code == 403
    assert client.get(reverse("loans:change_renewal", args=[loan.pk])).status_code == 403
    client.force_login(world.approver)
    queue = client.get(reverse("loans:change_extension_queue"))
    assert queue.status_code == 200 and loan.contract_no in queue.content.decode()
    ext = Extension.objects.get()
    r = client.post(reverse("loans:change_extension_decide", args=[ext.pk]), {"approve": "1", "comment": ""})
    assert r.status_code == 302
    assert Loan.objects.get(pk=loan.pk).state == Loan.State.EXTENDED
    client.force_login(world.cadre)
    assert client.get(reverse("loans:change_renewal", args=[loan.pk])).status_code == 200
    assert client.get(reverse("loans:change_additional", args=[loan.pk])).status_code == 200
    client.force_login(world.other_cadre)
    assert client.get(reverse("loans:change_renewal", args=[loan.pk])).status_code == 404
    assert LoanApplication.objects.count() == 0
