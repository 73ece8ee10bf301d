"""Recoveries (DOMAIN §8; P1 art.40): the split in the claim's ratio, the due day on the calendar,
the return into the fund's ledger, and the late list. Amounts and days worked out by hand."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from policies.exceptions import CalendarMissing
from riskfund import selectors
from riskfund.models import Account, LedgerEntry, LedgerTransaction, Recovery
from riskfund.services import ledger
from riskfund.services.recoveries import recovery_record, recovery_return, split
from tests.concurrency import run_together
from tests.factories import (
    BankFactory,
    BranchFactory,
    CompensationClaimFactory,
    HouseholdFactory,
    LoanFactory,
    UserFactory,
)

D = datetime.date


@pytest.fixture
def claim(world):
    """A paid claim on a loan of branch BR1: loss 31,234.57, fund 0.8, remainder fen to the bank."""
    loan = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    return CompensationClaimFactory(
        fund=world.fund, loan=loan, profile=world.profile, filed_by=world.officer, paid_by=world.finance
    )


def record(world, claim, amount, received_on, note=""):
    return recovery_record(
        acting_user=world.officer, claim=claim, amount=Decimal(amount), received_on=received_on, note=note
    )


# ---- the split -------------------------------------------------------------------------------------


def test_split_odd_fen_both_ways():
    # 1,000.01 × 0.8 = 800.008: the side with the remainder takes the fen.
    assert split(Decimal("1000.01"), Decimal("0.8000"), "bank") == (Decimal("800.00"), Decimal("200.01"))
    assert split(Decimal("1000.01"), Decimal("0.8000"), "fund") == (Decimal("800.01"), Decimal("200.00"))
    # 0.05 × 0.7 = 0.035
    assert split(Decimal("0.05"), Decimal("0.7000"), "bank") == (Decimal("0.03"), Decimal("0.02"))
    assert split(Decimal("0.05"), Decimal("0.7000"), "fund") == (Decimal("0.04"), Decimal("0.01"))
    # An even split leaves no remainder either way.
    assert split(Decimal("100.00"), Decimal("0.8000"), "fund") == (Decimal("80.00"), Decimal("20.00"))


def test_record_splits_in_the_claims_ratio_remainder_to_bank(world, claim):
    r = record(world, claim, "1000.01", D(2026, 6, 1), note="处置抵押物")
    assert (r.amount, r.fund_share, r.bank_share) == (
        Decimal("1000.01"),
        Decimal("800.00"),
        Decimal("200.01"),
    )
    assert r.recorded_by == world.officer and r.note == "处置抵押物" and r.returned_on is None
    event = AuditEvent.objects.get(action="riskfund.recovery_record")
    assert event.object_id == str(r.pk) and event.data["fund_share"] == "800.00"


def test_record_splits_remainder_to_fund(world, claim):
    claim.remainder_to = "fund"
    claim.save(update_fields=["remainder_to"])
    r = record(world, claim, "1000.01", D(2026, 6, 1))
    assert (r.fund_share, r.bank_share) == (Decimal("800.01"), Decimal("200.00"))


# ---- the due day -------------------------------------------------------------------------------------


def test_due_five_working_days_after_receipt(world, claim):
    # Received Monday 1 June 2026: 2, 3, 4, 5, 8 June.
    assert record(world, claim, "100.00", D(2026, 6, 1)).due_on == D(2026, 6, 8)


def test_due_across_the_dragon_boat_festival(world, claim):
    # Received Monday 15 June 2026; Friday 19 June is the festival: 16, 17, 18, 22, 23 June.
    assert record(world, claim, "100.00", D(2026, 6, 15)).due_on == D(2026, 6, 23)


@pytest.mark.today("2026-10-20")
def test_due_across_the_national_day_week(world, claim):
    # Received Tuesday 29 Sept 2026: 30 Sept, then 1-7 Oct off, 8, 9, Saturday 10 Oct (调休), 12 Oct.
    assert record(world, claim, "100.00", D(2026, 9, 29)).due_on == D(2026, 10, 12)


@pytest.mark.today("2026-12-30")
def test_due_in_a_year_the_calendar_lacks_is_a_clear_error(world, claim):
    assert not Recovery.objects.exists()
    events = AuditEvent.objects.count()
    with pytest.raises(CalendarMissing) as e:
        record(world, claim, "100.00", D(2026, 12, 29))
    assert e.value.year == 2027 and e.value.code == "calendar_missing"
    assert "2027" in str(e.value.message)
    assert not Recovery.objects.exists()
    assert AuditEvent.objects.count() == events


# ---- what is refused -----------------------------------------------------------------------------


def test_recoveries_never_exceed_the_loss(world, claim):
    record(world, claim, "31000.00", D(2026, 6, 1))
    with pytest.raises(ApplicationError) as e:
        record(world, claim, "234.58", D(2026, 6, 2))
    assert e.value.code == "rule_failed" and e.value.field == "amount"
    assert e.value.extra["left"] == "234.57"
    assert e.value.extra["rules"][0]["rule"] == "recovery_within_loss"
    assert record(world, claim, "234.57", D(2026, 6, 2)).amount == Decimal("234.57")
    assert Recovery.objects.filter(claim=claim).count() == 2


def test_only_on_a_paid_claim(world):
    loan = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    approved = CompensationClaimFactory(
        fund=world.fund, loan=loan, profile=world.profile, filed_by=world.officer, state="approved"
    )
    with pytest.raises(ConflictError) as e:
        record(world, approved, "100.00", D(2026, 6, 1))
    assert e.value.code == "claim_not_paid" and e.value.status_code == 409


def test_only_a_loan_officer_of_the_claims_bank(world, claim):
    other_branch = BranchFactory(parent=BankFactory())
    strangers = [
        world.approver,
        world.finance,
        world.county_office,
        UserFactory(unit=other_branch, roles=[Role.LOAN_OFFICER]),
    ]
    for user in strangers:
        with pytest.raises(NotPermitted):
            recovery_record(acting_user=user, claim=claim, amount=Decimal("1.00"), received_on=D(2026, 6, 1))
    # An officer of the other branch of the same bank may.
    colleague = UserFactory(unit=world.br2, roles=[Role.LOAN_OFFICER])
    r = recovery_record(acting_user=colleague, claim=claim, amount=Decimal("1.00"), received_on=D(2026, 6, 1))
    assert r.fund_share == Decimal("0.80")


@pytest.mark.parametrize(
    ("amount", "received_on", "field"),
    [
        ("0.00", D(2026, 6, 1), "amount"),
        ("-5.00", D(2026, 6, 1), "amount"),
        ("10.001", D(2026, 6, 1), "amount"),
        ("10.00", D(2026, 6, 18), "received_on"),  # tomorrow
        ("10.00", D(2026, 3, 1), "received_on"),  # before the compensation was paid (2 March)
    ],
)
def test_bad_amounts_and_days_refused(world, claim, amount, received_on, field):
    with pytest.raises(ApplicationError) as e:
        record(world, claim, amount, received_on)
    assert e.value.field == field
    assert not Recovery.objects.exists()


# ---- the return --------------------------------------------------------------------------------------


def test_return_posts_the_fund_share_once(world, claim):
    r = record(world, claim, "1000.01", D(2026, 6, 1))
    before = ledger.balance(world.fund)
    assert before == Decimal("10000000.00")
    recovery_return(acting_user=world.finance, recovery=r, returned_on=D(2026, 6, 5))
    assert ledger.balance(world.fund) == before + Decimal("800.00")
    txn = LedgerTransaction.objects.get(recovery=r)
    assert txn.kind == "recovery" and txn.booked_on == D(2026, 6, 5) and txn.fund == world.fund
    legs = sorted((e.account, e.amount) for e in LedgerEntry.objects.filter(transaction=txn))
    assert legs == [(Account.FUND, Decimal("800.00")), (Account.RECOVERY, Decimal("-800.00"))]
    r.refresh_from_db()
    assert r.returned_on == D(2026, 6, 5) and r.returned_by == world.finance
    assert AuditEvent.objects.filter(action="riskfund.recovery_return", object_id=str(r.pk)).count() == 1

    with pytest.raises(ConflictError) as e:
        recovery_return(acting_user=world.finance, recovery=r, returned_on=D(2026, 6, 8))
    assert e.value.code == "already_returned"
    assert LedgerTransaction.objects.filter(recovery=r).count() == 1
    assert ledger.balance(world.fund) == before + Decimal("800.00")


def test_return_by_finance_of_the_county_only(world, claim):
    r = record(world, claim, "100.00", D(2026, 6, 1))
    other_finance = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    for user in (world.officer, world.county_office, world.committee, other_finance):
        with pytest.raises(NotPermitted):
            recovery_return(acting_user=user, recovery=r, returned_on=D(2026, 6, 5))
    assert not LedgerTransaction.objects.filter(recovery=r).exists()


def test_return_days_checked(world, claim):
    r = record(world, claim, "100.00", D(2026, 6, 10))
    for day in (D(2026, 6, 9), D(2026, 6, 18)):
        with pytest.raises(ApplicationError) as e:
            recovery_return(acting_user=world.finance, recovery=r, returned_on=day)
        assert e.value.field == "returned_on"


# ---- the late list -----------------------------------------------------------------------------------


def test_late_list_with_days_late(world, claim):
    """Today is Wednesday 17 June 2026. A: received 1 June, due 8 June, still out: 9 days late.
    B: due 8 June, returned 10 June: 2 days late. C: returned 5 June: on time. D: received 15
    June, due 23 June: not due yet."""
    a = record(world, claim, "100.00", D(2026, 6, 1))
    b = record(world, claim, "200.00", D(2026, 6, 1))
    c = record(world, claim, "300.00", D(2026, 6, 1))
    d = record(world, claim, "400.00", D(2026, 6, 15))
    recovery_return(acting_user=world.finance, recovery=b, returned_on=D(2026, 6, 10))
    recovery_return(acting_user=world.finance, recovery=c, returned_on=D(2026, 6, 5))

    def tab(name, user=world.county_office):
        return list(selectors.recovery_list(user, tab=name))

    assert tab("late") == [a, b]
    assert tab("due") == [a, d]
    assert tab("returned") == [b, c]
    assert selectors.recovery_tab_counts(world.county_office) == {
        "all": 4,
        "due": 2,
        "late": 2,
        "returned": 2,
    }
    late = {r.pk: selectors.days_late(r) for r in tab("")}
    assert late == {a.pk: 9, b.pk: 2, c.pk: 0, d.pk: 0}
    # The bank sees the same list; another county sees nothing.
    assert tab("late", world.approver) == [a, b]
    assert tab("late", world.finance) == [a, b]
    assert tab("", UserFactory(unit=world.other_county, roles=[Role.FINANCE])) == []
    assert tab("", world.cadre) == []


# ---- two at once -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_recoveries_at_once_never_pass_the_loss(world, claim):
    from riskfund.models import CompensationClaim

    def call():
        return record(world, CompensationClaim.objects.get(pk=claim.pk), "20000.00", D(2026, 6, 1))

    outcomes = run_together(claim, call, call)
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    (error,) = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(error, ApplicationError) and error.extra["left"] == "11234.57"
    assert Recovery.objects.filter(claim=claim).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_returns_at_once_post_once(world, claim):
    r = record(world, claim, "1000.01", D(2026, 6, 1))
    before = ledger.balance(world.fund)

    def call():
        return recovery_return(
            acting_user=world.finance, recovery=Recovery.objects.get(pk=r.pk), returned_on=D(2026, 6, 5)
        )

    outcomes = run_together(r, call, call)
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    (error,) = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(error, ConflictError) and error.code == "already_returned"
    assert LedgerTransaction.objects.filter(recovery=r).count() == 1
    assert ledger.balance(world.fund) == before + Decimal("800.00")


def test_a_recovery_leaving_the_fund_no_share_is_returned_without_a_posting(world, claim):
    # 0.01 × 0.8 = 0.008: with the remainder fen to the bank the fund's share is 0.00.
    r = record(world, claim, "0.01", D(2026, 6, 1))
    assert (r.fund_share, r.bank_share) == (Decimal("0.00"), Decimal("0.01"))
    recovery_return(acting_user=world.finance, recovery=r, returned_on=D(2026, 6, 2))
    r.refresh_from_db()
    assert r.returned_on == D(2026, 6, 2)
    assert not LedgerTransaction.objects.filter(recovery=r).exists()
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_the_fund_shares_of_small_recoveries_add_up_to_its_share_of_their_total(world, claim):
    # Each 0.01 × 0.8 = 0.008 alone gives the fund 0.00; the running total gives it its fen in turn.
    shares = [record(world, claim, "0.01", D(2026, 6, 1)).fund_share for _ in range(5)]
    assert shares == [Decimal("0.00"), Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), Decimal("0.01")]
    assert sum(shares) == split(Decimal("0.05"), Decimal("0.8000"), "bank")[0] == Decimal("0.04")
    assert all(r.fund_share + r.bank_share == r.amount for r in claim.recoveries.all())
