"""Eligibility through the real workflow (DOMAIN §3): the credit line is cumulative across a
household's loans and applications, the borrower's age is taken on the application date at every
later step while days pass, and the application form's figures come from the same household load
as the rules, a renewal included."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.urls import reverse

from core.exceptions import ApplicationError
from households.models import CreditRating
from loans import eligibility
from loans.models import Loan, LoanApplication
from loans.services import applications, changes
from loans.workflow import State
from tests.conftest import moment
from tests.factories import MemberFactory, id_number
from tests.loans.test_settlements import make_loan

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)


def born(household, birth: datetime.date):
    """A member of `household` born on `birth` (an area code the factories never use)."""
    return MemberFactory(household=household, id_number=id_number(birth, next(_seq), area="450398"))


def refused_rules(error: ApplicationError) -> list[str]:
    assert error.code == "rule_failed", error.code
    return [r["rule"] for r in error.extra["rules"]]


def rated_aa(household):
    """Lower the household's line to 30,000 (grade AA); the rating stays valid."""
    CreditRating.objects.filter(household=household).update(
        grade=CreditRating.Grade.AA, score=75, credit_limit=Decimal("30000.00")
    )


# ---- the credit line is cumulative ------------------------------------------------------------


def test_two_applications_in_flight_may_not_draw_twice_the_line(world, household, new_application):
    rated_aa(household)
    first = applications.application_submit(
        acting_user=world.cadre, application=new_application(amount=Decimal("20000.00"))
    )
    assert first.state == State.VILLAGE_REVIEW
    second = new_application(amount=Decimal("20000.00"))
    with pytest.raises(ApplicationError) as caught:
        applications.application_submit(acting_user=world.cadre, application=second)
    # 20,000 in flight + 20,000 = 40,000 > 30,000; under the household cap of 50,000 it would pass.
    assert refused_rules(caught.value) == ["credit_line"]
    assert caught.value.extra["stage"] == "submission"
    message = caught.value.extra["rules"][0]["message"]
    # Line 30,000, used 20,000, this 20,000, left 10,000.
    assert "30,000.00" in message and "20,000.00" in message and "10,000.00" in message
    assert LoanApplication.objects.get(pk=second.pk).state == State.DRAFT


def test_an_open_loan_draws_on_the_line(world, household, new_application, drive):
    rated_aa(household)
    drive(new_application(amount=Decimal("20000.00")), State.DISBURSED)
    assert Loan.objects.get(household=household).outstanding == Decimal("20000.00")
    with pytest.raises(ApplicationError) as caught:
        applications.application_submit(
            acting_user=world.cadre, application=new_application(amount=Decimal("15000.00"))
        )
    # 20,000 outstanding + 15,000 = 35,000 > 30,000.
    assert refused_rules(caught.value) == ["credit_line"]
    # 20,000 + 10,000 = 30,000: exactly the line.
    app = applications.application_submit(
        acting_user=world.cadre, application=new_application(amount=Decimal("10000.00"))
    )
    assert app.state == State.VILLAGE_REVIEW


# ---- age on the application date at every step -----------------------------------------------


def test_a_borrower_who_turns_66_after_submission_is_approved_and_disbursed(
    world, household, new_application, drive, pinned_clock
):
    # The clock starts on 2026-06-17. Born 1960-06-18: 65 today, 66 tomorrow.
    borrower = born(household, datetime.date(1960, 6, 18))
    app = drive(new_application(borrower=borrower), State.BANK_ACCEPTANCE)
    assert app.submitted_on == datetime.date(2026, 6, 17)
    assert max(n.end_on for n in app.notices.all()) < datetime.date(2026, 7, 15)

    # The bank takes its steps four weeks later, when the borrower is 66.
    pinned_clock.move_to(moment("2026-07-15"))
    assert borrower.age_on(datetime.date(2026, 7, 15)) == 66
    report = eligibility.evaluate_application(app, on_date=datetime.date(2026, 7, 15), stage="check")
    age = next(r for r in report.results if r.rule == "age_range")
    assert age.passed and "65" in age.message and "2026-06-17" in age.message

    app = applications.application_accept(
        acting_user=world.officer, application=app, findings="实地查看，属实"
    )
    app = applications.application_approve(acting_user=world.approver, application=app)
    assert app.state == State.APPROVED and app.approved_on == datetime.date(2026, 7, 15)
    applications.application_disburse(
        acting_user=world.officer, application=app, contract_no="HT-AGE-1", receipt_no="JJ-AGE-1"
    )
    loan = Loan.objects.get(application=app)
    assert loan.borrower == borrower and loan.disbursed_on == datetime.date(2026, 7, 15)


def test_a_draft_sent_back_is_dated_again_when_submitted_again(
    world, household, new_application, pinned_clock
):
    borrower = born(household, datetime.date(1960, 6, 18))  # 65 on 2026-06-17, 66 from 06-18
    app = applications.application_submit(
        acting_user=world.cadre, application=new_application(borrower=borrower)
    )
    app = applications.application_send_back(acting_user=world.cadre, application=app, comment="补充材料")
    pinned_clock.move_to(moment("2026-06-18"))
    before = LoanApplication.objects.filter(pk=app.pk).values("state", "submitted_on").get()
    with pytest.raises(ApplicationError) as caught:
        applications.application_submit(acting_user=world.cadre, application=app)
    # The new submission is a new application date: the borrower is 66 on it.
    assert refused_rules(caught.value) == ["age_range"]
    assert "66" in caught.value.extra["rules"][0]["message"]
    assert LoanApplication.objects.filter(pk=app.pk).values("state", "submitted_on").get() == before


# ---- the form's figures and the rules count the same load ------------------------------------


def test_the_form_strip_shows_what_is_left_of_the_line(world, client_as, household):
    rated_aa(household)
    make_loan(household, world, amount=Decimal("20000.00"))
    r = client_as(world.cadre).get(reverse("loans:application_create", args=[household.pk]))
    assert r.status_code == 200
    panel = r.context["panel"]
    assert panel["outstanding"] == Decimal("20000.00")
    assert panel["line_headroom"] == Decimal("10000.00")  # 30,000 − 20,000
    assert panel["headroom"] == Decimal("30000.00")  # 50,000 − 20,000
    # The line is the tighter limit: at most 10,000, not the whole 30,000 line.
    assert panel["max_amount"] == Decimal("10000.00")
    assert "10,000.00" in r.content.decode()


def test_a_renewal_shows_the_same_load_on_the_page_as_in_the_rules(world, client_as, household):
    old = make_loan(household, world)  # 30,000 outstanding
    make_loan(household, world, amount=Decimal("5000.00"))  # another open loan
    renewal = changes.renewal_start(
        acting_user=world.cadre,
        loan=old,
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )
    assert renewal.kind == LoanApplication.Kind.RENEWAL and renewal.amount == Decimal("30000.00")

    r = client_as(world.cadre).get(reverse("loans:application_edit", args=[renewal.pk]))
    assert r.status_code == 200
    panel = r.context["panel"]
    # The renewed 30,000 is replaced by this application, so only the other 5,000 is counted
    # (the page used to show 35,000 outstanding while the rule counted 5,000).
    assert (panel["outstanding"], panel["applied"]) == (Decimal("5000.00"), Decimal("0.00"))
    assert panel["headroom"] == Decimal("45000.00")  # 50,000 − 5,000
    assert panel["line_headroom"] == Decimal("45000.00")  # AAA line 50,000 − 5,000

    report = eligibility.evaluate_application(renewal, on_date=datetime.date(2026, 6, 17), stage="check")
    cap = next(r for r in report.results if r.rule == "amount_cap_household")
    line = next(r for r in report.results if r.rule == "credit_line")
    # 5,000 already, 5,000 + 30,000 = 35,000 after; the same 5,000 used of the line.
    assert cap.passed and "5,000.00" in cap.message and "35,000.00" in cap.message
    assert line.passed and "5,000.00" in line.message and "45,000.00" in line.message
    # The form's rule panel says the same.
    rows = {row["rule"]: row for row in r.context["report"]["rows"]}
    assert rows["amount_cap_household"]["message"] == cap.message
    assert rows["credit_line"]["message"] == line.message
