"""The leverage cap (DOMAIN §4.6, §8; P1 art.38) at every disbursement: the bank's outstanding in
the county plus what a loan adds may reach balance × multiple exactly, never one fen more.

The world's fund (10,000,000 at bank B for county A) is brought down to 10,000.00 by a withdrawal
booked straight in the ledger, so the cap is 10,000.00 × 10 = 100,000.00 and loans of other
households (LoanFactory) make up the outstanding to the fen."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from core.exceptions import ApplicationError
from loans.models import Loan, LoanApplication
from loans.services import applications, changes
from loans.workflow import State
from riskfund.models import Account, LedgerEntry, LedgerTransaction
from riskfund.services import leverage
from tests.factories import (
    BankFactory,
    BranchFactory,
    HouseholdFactory,
    LoanFactory,
    PolicyProfileFactory,
    RiskFundFactory,
    UserFactory,
)
from tests.loans.conftest import (  # noqa: F401  (the loan tests' fixtures, used here too)
    calendar_ahead,
    drive,
    household,
    new_application,
)

pytestmark = pytest.mark.django_db

D = Decimal


def shrink_fund(fund, to: str) -> None:
    """Withdraw all but `to` yuan from the fund, as two ledger legs."""
    from riskfund.services.ledger import balance

    amount = balance(fund) - D(to)
    txn = LedgerTransaction.objects.create(
        fund=fund,
        kind=LedgerTransaction.Kind.WITHDRAWAL,
        booked_on=datetime.date(2026, 6, 1),
        memo="测试：调减",
        created_by=UserFactory(unit=fund.county, roles=[]),
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(transaction=txn, fund=fund, account=Account.FUND, amount=-amount),
            LedgerEntry(transaction=txn, fund=fund, account=Account.COUNTY, amount=amount),
        ]
    )


def lent(world, outstanding: str, *, village=None, branch=None, **fields) -> Loan:
    """A loan of another household, with `outstanding` yuan still owed."""
    h = HouseholdFactory(village=village or world.v1b)
    return LoanFactory(
        household=h, branch=branch or world.br1, amount=D(outstanding), outstanding=D(outstanding), **fields
    )


@pytest.fixture
def small_fund(world):
    """Cap 100,000.00: balance 10,000.00 × the profile's multiple 10."""
    shrink_fund(world.fund, "10000.00")
    return world.fund


def disburse(world, app, **kw):
    return applications.application_disburse(
        acting_user=world.officer,
        application=app,
        contract_no=f"HT-L{app.pk}",
        receipt_no=f"JJ-L{app.pk}",
        **kw,
    )


def leverage_error(caught) -> dict:
    error = caught.value
    assert error.code == "rule_failed"
    assert [r["rule"] for r in error.extra["rules"]] == ["leverage_cap"]
    assert error.extra["rules"][0]["source"] == "P1 art.38; DOMAIN §8"
    return error.extra


# ---- the edge ------------------------------------------------------------------------------------


def test_outstanding_plus_amount_equal_to_the_cap_passes(world, small_fund, new_application, drive):  # noqa: F811
    lent(world, "40000.00")
    lent(world, "30000.00")
    app = drive(new_application(), State.APPROVED)
    assert app.approved_amount == D("30000.00")

    loan = disburse(world, app)

    assert loan.amount == D("30000.00")
    room = leverage.headroom(small_fund, on_date=datetime.date(2026, 6, 17))
    assert (room.cap, room.outstanding, room.headroom) == (D("100000.00"), D("100000.00"), D("0.00"))


def test_one_fen_more_is_refused_with_every_figure(world, small_fund, new_application, drive):  # noqa: F811
    lent(world, "40000.00")
    lent(world, "30000.01")
    app = drive(new_application(), State.APPROVED)

    with pytest.raises(ApplicationError) as caught:
        disburse(world, app)

    extra = leverage_error(caught)
    assert {k: extra[k] for k in ("balance", "multiple", "cap", "outstanding", "headroom", "amount")} == {
        "balance": "10000.00",
        "multiple": "10.00",
        "cap": "100000.00",
        "outstanding": "70000.01",
        "headroom": "29999.99",
        "amount": "30000.00",
    }
    message = str(caught.value)
    for figure in ("10,000.00", "× 10 ", "100,000.00", "70,000.01", "29,999.99", "30,000.00", "P1 art.38"):
        assert figure in message, (figure, message)
    # Nothing was written: the application still waits, no loan.
    assert LoanApplication.objects.get(pk=app.pk).state == State.APPROVED
    assert not Loan.objects.filter(application=app).exists()


def start_renewal(world, old):
    return changes.renewal_start(
        acting_user=world.cadre,
        loan=old,
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )


def test_a_renewal_counts_only_what_it_adds(world, small_fund, household, drive):  # noqa: F811
    """At the cap exactly (30,000.00 to be renewed + 70,000.00 of others), the renewal's new
    30,000.00 alone would pass it; it replaces the 30,000.00 it renews, so it adds nothing."""
    from tests.loans.test_settlements import make_loan

    old = make_loan(household, world)  # 30,000.00 outstanding at br1
    lent(world, "70000.00")
    app = drive(start_renewal(world, old), State.APPROVED)
    assert (app.kind, app.approved_amount) == (LoanApplication.Kind.RENEWAL, D("30000.00"))

    loan = disburse(world, app)

    old.refresh_from_db()
    assert (old.state, old.outstanding) == (Loan.State.SETTLED, D("0.00"))
    assert leverage.outstanding(small_fund) == D("100000.00") == loan.outstanding + D("70000.00")


def test_the_check_counts_a_renewal_net_of_the_loan_it_replaces(world, small_fund, household):  # noqa: F811
    """The check itself: a renewal of 30,000.00 replacing a loan with 25,000.00 outstanding asks for
    5,000.00 (the disbursement refuses such a renewal anyway, later, in loans)."""
    from tests.loans.test_settlements import make_loan

    old = make_loan(household, world, amount=D("30000.00"), outstanding=D("25000.00"))
    lent(world, "70000.00")
    app = LoanApplication(
        household=household, branch=world.br1, kind=LoanApplication.Kind.RENEWAL, related_loan=old
    )
    today = datetime.date(2026, 6, 17)

    leverage.leverage_check(application=app, amount=D("30000.00"), on_date=today)  # 95,000 + 5,000
    with pytest.raises(ApplicationError) as caught:
        leverage.leverage_check(application=app, amount=D("30000.01"), on_date=today)

    extra = leverage_error(caught)
    assert (extra["outstanding"], extra["headroom"], extra["amount"]) == ("95000.00", "5000.00", "5000.01")
    # The message says how the 5,000.01 comes about.
    assert "30,000.01" in str(caught.value) and "25,000.00" in str(caught.value)

    # Settled meanwhile, the old loan no longer counts and takes nothing off.
    Loan.objects.filter(pk=old.pk).update(state=Loan.State.SETTLED, outstanding=D("0.00"))
    with pytest.raises(ApplicationError) as caught:
        leverage.leverage_check(application=app, amount=D("30000.01"), on_date=today)
    assert leverage_error(caught)["amount"] == "30000.01"


def test_a_renewal_adding_nothing_is_refused_while_above_the_cap(world, small_fund, household, drive):  # noqa: F811
    """Over the cap already (the fund shrank after the loans were made), even a renewal of the same
    outstanding is refused: the bank lends strictly within the cap (P1 art.38) until the county
    tops the fund up or the bank collects."""
    from tests.loans.test_settlements import make_loan

    old = make_loan(household, world)
    lent(world, "70000.01")
    app = drive(start_renewal(world, old), State.APPROVED)

    with pytest.raises(ApplicationError) as caught:
        disburse(world, app)

    assert leverage_error(caught)["amount"] == "0.00"
    assert leverage.outstanding(small_fund) == D("100000.01")


def test_an_additional_loan_counts_in_full(world, small_fund, household, drive):  # noqa: F811
    from tests.loans.test_settlements import make_loan

    loan = make_loan(household, world)  # 30,000.00
    lent(world, "50000.01")
    app = changes.additional_start(
        acting_user=world.cadre,
        loan=loan,
        amount=D("20000.00"),
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )
    app = drive(app, State.APPROVED)

    with pytest.raises(ApplicationError) as caught:
        disburse(world, app)

    extra = leverage_error(caught)
    assert (extra["outstanding"], extra["headroom"], extra["amount"]) == ("80000.01", "19999.99", "20000.00")

    # One fen less outstanding and it fits exactly.
    Loan.objects.filter(household__village=world.v1b).update(outstanding=D("50000.00"))
    disburse(world, app)
    assert leverage.outstanding(small_fund) == D("100000.00")


# ---- what counts --------------------------------------------------------------------------------


def test_closed_loans_and_other_banks_or_counties_do_not_count(world, small_fund, new_application, drive):  # noqa: F811
    other_bank = BankFactory(name="其他银行", code="B009")
    other_branch = BranchFactory(parent=other_bank, name="其他支行", code="B009-01")
    lent(world, "70000.00")
    lent(world, "500000.00", branch=other_branch)  # county A, another bank
    lent(world, "500000.00", village=world.vz)  # bank B, county Z
    for state in (Loan.State.SETTLED, Loan.State.COMPENSATED, Loan.State.WRITTEN_OFF):
        lent(world, "500000.00", state=state)
    lent(world, "500000.00", state=Loan.State.OVERDUE, village=world.vz)
    assert leverage.outstanding(small_fund) == D("70000.00")
    # The open states all count.
    lent(world, "0.01", state=Loan.State.OVERDUE)
    lent(world, "0.01", state=Loan.State.EXTENDED)
    assert leverage.outstanding(small_fund) == D("70000.02")

    app = drive(new_application(), State.APPROVED)
    with pytest.raises(ApplicationError) as caught:
        disburse(world, app)
    assert leverage_error(caught)["outstanding"] == "70000.02"

    Loan.objects.filter(outstanding=D("0.01")).update(outstanding=D("0.00"))
    disburse(world, app)


def test_no_fund_for_the_county_at_the_bank_is_refused(world, household):  # noqa: F811
    """A branch of a bank with no fund in county A: the check refuses whatever the amount."""
    other_bank = BankFactory(name="其他银行", code="B009")
    branch = BranchFactory(parent=other_bank, name="其他支行", code="B009-01")
    app = LoanApplication(household=household, branch=branch, kind=LoanApplication.Kind.NEW)

    with pytest.raises(ApplicationError) as caught:
        leverage.leverage_check(application=app, amount=D("0.01"), on_date=datetime.date(2026, 6, 17))

    extra = leverage_error(caught)
    assert extra["fund"] is None
    assert "临桂区" in str(caught.value)


def test_a_fund_of_another_county_at_the_bank_does_not_help(world):
    """Bank B has a fund in county Z too; a household of county A still lends against county A's."""
    RiskFundFactory(county=world.other_county, bank=world.bank, deposit="5000000.00")
    shrink_fund(world.fund, "0.01")  # cap 0.10
    h = HouseholdFactory(village=world.v1a)
    app = LoanApplication(household=h, branch=world.br1, kind=LoanApplication.Kind.NEW)
    with pytest.raises(ApplicationError) as caught:
        leverage.leverage_check(application=app, amount=D("0.11"), on_date=datetime.date(2026, 6, 17))
    assert leverage_error(caught)["fund"] == world.fund.pk
    leverage.leverage_check(application=app, amount=D("0.10"), on_date=datetime.date(2026, 6, 17))


def test_the_multiple_is_the_profiles_in_force_on_the_disbursement_date(world, small_fund):
    """From 2026-06-01 the county's profile says 5 (cap 50,000.00); before, 10 (cap 100,000.00)."""
    PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2026, 6, 1), leverage_multiple=D("5.00")
    )
    lent(world, "20000.00")
    h = HouseholdFactory(village=world.v1a)
    app = LoanApplication(household=h, branch=world.br1, kind=LoanApplication.Kind.NEW)

    leverage.leverage_check(application=app, amount=D("80000.00"), on_date=datetime.date(2026, 5, 31))
    leverage.leverage_check(application=app, amount=D("30000.00"), on_date=datetime.date(2026, 6, 1))
    with pytest.raises(ApplicationError) as caught:
        leverage.leverage_check(application=app, amount=D("30000.01"), on_date=datetime.date(2026, 6, 1))
    extra = leverage_error(caught)
    assert (extra["multiple"], extra["cap"], extra["headroom"]) == ("5.00", "50000.00", "30000.00")


# ---- the API and the page ----------------------------------------------------------------------


def test_the_api_answers_400_with_the_rule(world, small_fund, new_application, drive, api_as):  # noqa: F811
    lent(world, "70000.01")
    app = drive(new_application(), State.APPROVED)

    r = api_as(world.officer).post(
        f"/api/v1/applications/{app.pk}/transitions/disburse/",
        {"contract_no": "HT-API-1", "receipt_no": "JJ-API-1"},
        format="json",
    )

    assert r.status_code == 400, r.content
    body = r.json()
    assert body["code"] == "rule_failed"
    assert [rule["rule"] for rule in body["extra"]["rules"]] == ["leverage_cap"]
    assert (body["extra"]["outstanding"], body["extra"]["headroom"], body["extra"]["amount"]) == (
        "70000.01",
        "29999.99",
        "30000.00",
    )
    assert "29,999.99" in body["extra"]["rules"][0]["message"]
    assert not Loan.objects.filter(application=app).exists()


def test_the_page_shows_the_refusal_on_the_form(world, small_fund, new_application, drive, client_as):  # noqa: F811
    lent(world, "70000.01")
    app = drive(new_application(), State.APPROVED)
    data = {
        "contract_no": "HT-PAGE-1",
        "receipt_no": "JJ-PAGE-1",
        "account_no": "6230 0000 1111 2222",
        "disbursed_on": "2026-06-17",
        "comment": "",
    }

    r = client_as(world.officer).post(reverse("loans:application_disburse", args=[app.pk]), data)

    assert r.status_code == 400
    errors = " ".join(str(row["message"]) for row in r.context["rule_errors"])
    html = r.content.decode()
    for figure in ("10,000.00", "100,000.00", "70,000.01", "29,999.99", "30,000.00"):
        assert figure in html
    assert "29,999.99" in errors
    assert not Loan.objects.filter(application=app).exists()
