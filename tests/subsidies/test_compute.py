"""The subsidy of each settlement (DOMAIN §6), computed by the batch's SQL through the real task
code, against amounts worked out by hand.

Unless a test says otherwise: the batch is 2025 Q3 (2025-07-01 to 2025-09-30) of county A, whose
profile uses the PBOC benchmark (≤ 12 months 4.35%, 13-60 months 4.75%), a share of 1, 3 years of
support and 50,000 yuan of subsidized principal per household. Interest settles on the 20th of
the quarter's last month; days count the first day and not the last (算头不算尾), so
2025-06-20 → 2025-09-20 is 10 + 31 + 31 + 20 = 92 days."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from core.exceptions import ApplicationError
from households.models import BlacklistEntry, Household
from households.services import blacklist as household_blacklist
from loans.models import Loan, Settlement
from policies.models import PolicyProfile, Rate
from policies.selectors import LPR_SINCE, rate_kind_for, tenor_for
from subsidies import compute
from subsidies.models import ExcludedReason, ReducedReason, SubsidyLine
from subsidies.workflow import State
from tests.factories import HouseholdFactory, PolicyProfileFactory

from .conftest import today_is

D = datetime.date
Q3_START, Q3_END = D(2025, 6, 20), D(2025, 9, 20)
BEIJING = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.usefixtures("after_q3")


def line_of(batch, loan, **filters) -> SubsidyLine:
    return SubsidyLine.objects.get(batch=batch, loan=loan, **filters)


def outcome(line: SubsidyLine) -> tuple:
    """What a household asks about: how many days, at what rate, how much, and if nothing, why."""
    return line.days, line.rate_used, line.subsidy, line.excluded_reason, line.claimed


def dec(value: str) -> Decimal:
    return Decimal(value)


def test_full_quarter(world, make_loan, settle, compute_now):
    loan = make_loan()  # 50,000 at 4.35% for 36 months, disbursed 2025-03-20
    settlement = settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    assert batch.state == State.COMPUTED
    line = line_of(batch, loan)
    assert line.settlement == settlement
    assert (line.principal, line.subsidized_principal, line.contract_rate, line.cap_rate) == (
        dec("50000.00"),
        dec("50000.00"),
        dec("4.3500"),
        dec("4.7500"),  # 36 months: the 1-5 year benchmark
    )
    # paid 555.83; cap 50000 × 4.35 × 92 ÷ 36000 = 555.8333…; min → 555.83
    assert outcome(line) == (92, dec("4.3500"), dec("555.83"), "", True)
    assert (batch.total, batch.line_count, batch.subsidized_count) == (dec("555.83"), 1, 1)
    assert (batch.progress_done, batch.progress_total) == (1, 1)
    assert batch.profile == world.profile


def test_interest_paid_beyond_the_cap_is_capped_and_below_it_is_paid_as_paid(make_loan, settle, compute_now):
    over = make_loan()
    settle(over, Q3_START, Q3_END, interest_due="600.00", paid_on=Q3_END)
    under = make_loan()
    settle(under, Q3_START, Q3_END, interest_due="555.83", interest_paid="300.00", paid_on=Q3_END)
    batch = compute_now()

    # paid 600.00 > cap 50000 × 4.35 × 92 ÷ 36000 = 555.8333… → 555.83
    assert outcome(line_of(batch, over)) == (92, dec("4.3500"), dec("555.83"), "", True)
    # paid 300.00 of 555.83 due < cap 555.8333… → 300.00
    assert outcome(line_of(batch, under)) == (92, dec("4.3500"), dec("300.00"), "", True)
    assert batch.total == dec("855.83")  # 555.83 + 300.00


def test_mid_quarter_disbursement(make_loan, settle, compute_now):
    loan = make_loan(amount="20000.00", term_months=12, disbursed_on=D(2025, 8, 5))
    # The first, short period: 2025-08-05 → 2025-09-20 = 26 + 20 = 46 days.
    settle(loan, D(2025, 8, 5), Q3_END, interest_due="111.17", paid_on=D(2025, 9, 22))
    batch = compute_now()

    line = line_of(batch, loan)
    # cap 20000 × 4.35 × 46 ÷ 36000 = 111.1666…; paid 111.17; min 111.1666… → 111.17
    assert outcome(line) == (46, dec("4.3500"), dec("111.17"), "", True)
    assert line.cap_rate == dec("4.3500")  # 12 months: the benchmark for a year or less
    assert line.paid_on == D(2025, 9, 22)


@pytest.mark.parametrize(
    ("term_months", "cap_rate", "subsidy"),
    [
        # 12 months: capped at 4.35 → 10000 × 4.35 × 92 ÷ 36000 = 111.1666… → 111.17
        (12, "4.3500", "111.17"),
        # 36 months: capped at 4.75 → 10000 × 4.75 × 92 ÷ 36000 = 121.3888… → 121.39
        (36, "4.7500", "121.39"),
    ],
)
def test_contract_rate_above_the_cap_is_the_borrowers_own(
    make_loan, settle, compute_now, term_months, cap_rate, subsidy
):
    loan = make_loan(amount="10000.00", rate="6.0000", term_months=term_months)
    # The bank charged 6%: 10000 × 6 × 92 ÷ 36000 = 153.33, all paid.
    settle(loan, Q3_START, Q3_END, interest_due="153.33", paid_on=Q3_END)
    batch = compute_now()

    line = line_of(batch, loan)
    assert (line.contract_rate, line.cap_rate, line.interest_paid) == (
        dec("6.0000"),
        dec(cap_rate),
        dec("153.33"),
    )
    assert outcome(line) == (92, dec(cap_rate), dec(subsidy), "", True)


def test_penalty_interest_is_never_subsidized(make_loan, settle, compute_now):
    loan = make_loan()
    settle(loan, Q3_START, Q3_END, interest_due="555.83", penalty_paid="42.50", paid_on=D(2025, 9, 28))
    batch = compute_now()

    line = line_of(batch, loan)
    assert (line.interest_paid, line.penalty_paid) == (dec("555.83"), dec("42.50"))
    # 555.83 of interest, capped at 555.8333… → 555.83; the 42.50 of penalty adds nothing.
    assert outcome(line) == (92, dec("4.3500"), dec("555.83"), "", True)
    assert batch.total == dec("555.83")


def test_unpaid_then_late_paid_is_subsidized_once_by_the_next_batch(
    world, monkeypatch, make_loan, settle, compute_now
):
    loan = make_loan()
    q3 = settle(loan, Q3_START, Q3_END, interest_due="555.83")  # not paid by the quarter's end
    q3_batch = compute_now()
    line = line_of(q3_batch, loan)
    assert (line.settlement, line.paid_on) == (q3, None)
    assert outcome(line) == (92, dec("4.3500"), dec("0.00"), ExcludedReason.UNPAID, False)
    assert q3_batch.total == dec("0.00")

    # Paid in October: still unpaid as of the Q3 batch's quarter end, so a recomputation of the
    # Q3 batch does not pick it up either.
    q3.interest_paid, q3.paid_on = dec("555.83"), D(2025, 10, 15)
    q3.save()
    q3_batch = compute_now(batch=q3_batch)
    assert outcome(line_of(q3_batch, loan)) == (92, dec("4.3500"), dec("0.00"), ExcludedReason.UNPAID, False)

    # The Q4 batch takes it, with Q4's own settlement: 2025-09-20 → 2025-12-20 = 10 + 31 + 30 + 20
    # = 91 days.
    q4 = settle(loan, Q3_END, D(2025, 12, 20), interest_due="549.79", paid_on=D(2025, 12, 20))
    today_is(monkeypatch, D(2026, 1, 10))
    q4_batch = compute_now(2025, 4)
    # Q3: 555.83 (as in the full quarter); Q4: cap 50000 × 4.35 × 91 ÷ 36000 = 549.7916… → 549.79
    assert outcome(line_of(q4_batch, loan, settlement=q3)) == (92, dec("4.3500"), dec("555.83"), "", True)
    assert outcome(line_of(q4_batch, loan, settlement=q4)) == (91, dec("4.3500"), dec("549.79"), "", True)
    assert q4_batch.total == dec("1105.62")  # 555.83 + 549.79

    # Recomputing the Q4 batch subsidizes nothing twice; the Q3 one may no longer be recomputed
    # (the Q4 batch took its late payment).
    q4_batch = compute_now(batch=q4_batch)
    assert q4_batch.total == dec("1105.62")
    with pytest.raises(ApplicationError) as refused:
        compute_now(batch=q3_batch)
    assert refused.value.extra["rules"][0]["rule"] == "batch_order"
    q3_batch.refresh_from_db()
    assert (q3_batch.state, q3_batch.total) == (State.COMPUTED, dec("0.00"))
    assert not SubsidyLine.objects.filter(batch=q3_batch, claimed=True).exists()
    # And the next year's first batch finds both settled: the loan is only listed, for no subsidy.
    today_is(monkeypatch, D(2026, 4, 10))
    q1_batch = compute_now(2026, 1)
    assert q1_batch.total == dec("0.00")
    assert [line.excluded_reason for line in SubsidyLine.objects.filter(batch=q1_batch)] == [
        ExcludedReason.NO_SETTLEMENT
    ]
    for settlement in (q3, q4):
        assert SubsidyLine.objects.filter(settlement=settlement, claimed=True).count() == 1
        assert SubsidyLine.objects.filter(settlement=settlement, subsidy__gt=0).count() == 1


def test_support_period_ending_mid_period(make_loan, settle, compute_now):
    # First disbursed 2022-08-05: 3 years of support end on 2025-08-05 (that day not included).
    ending = make_loan(
        disbursed_on=D(2022, 8, 5), maturity_on=D(2026, 2, 5), state=Loan.State.EXTENDED
    )  # extended for half its term
    settle(ending, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    # Support ended 2025-03-01, before the period began.
    ended = make_loan(disbursed_on=D(2022, 3, 1), maturity_on=D(2025, 12, 1), state=Loan.State.EXTENDED)
    settle(ended, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    # Days inside: 2025-06-20 → 2025-08-05 = 10 + 31 + 5 = 46;
    # cap 50000 × 4.35 × 46 ÷ 36000 = 277.9166… → 277.92 (the 555.83 paid is more)
    assert outcome(line_of(batch, ending)) == (46, dec("4.3500"), dec("277.92"), "", True)
    assert outcome(line_of(batch, ended)) == (
        0,
        dec("4.3500"),
        dec("0.00"),
        ExcludedReason.OUTSIDE_SUPPORT,
        True,
    )
    assert batch.total == dec("277.92")


def test_renewal_keeps_the_support_period_of_the_first_loan(world, make_loan, settle, compute_now):
    household = HouseholdFactory(village=world.v1b, head__age=45)
    first = make_loan(
        household=household,
        term_months=12,
        disbursed_on=D(2022, 8, 5),
        settled_on=D(2023, 8, 5),
        state=Loan.State.SETTLED,
    )
    renewal = make_loan(household=household, disbursed_on=D(2023, 8, 5), original_loan=first)
    settle(renewal, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    # Support runs from the first loan's 2022-08-05 to 2025-08-05, not from the renewal's date:
    # 46 days (as above) → 277.92. Counted from the renewal it would be all 92 days, 555.83.
    assert outcome(line_of(batch, renewal)) == (46, dec("4.3500"), dec("277.92"), "", True)
    # The first loan, settled in 2023, is not considered, and its amount is not ahead of the
    # renewal in the household cap.
    assert line_of(batch, renewal).subsidized_principal == dec("50000.00")
    assert not SubsidyLine.objects.filter(batch=batch, loan=first).exists()


def test_exited_household_keeps_the_subsidy(world, make_loan, settle, compute_now):
    household = HouseholdFactory(
        village=world.v2a, poverty_status=Household.PovertyStatus.EXITED, head__age=50
    )
    loan = make_loan(household=household)
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    assert outcome(line_of(batch, loan)) == (92, dec("4.3500"), dec("555.83"), "", True)
    assert line_of(batch, loan).village == world.v2a


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("added_at", "removed_at", "reason", "claimed"),
    [
        # On the list for part of the period: nothing, for good.
        (at(2025, 8, 1, 10), at(2025, 9, 1, 10), ExcludedReason.BLACKLISTED, True),
        # Added on the period's last day, Beijing time (15:30 UTC the day before).
        (at(2025, 9, 19, 23, 30), None, ExcludedReason.BLACKLISTED, True),
        # Removed on the period's first day.
        (at(2025, 3, 1, 10), at(2025, 6, 20, 8), ExcludedReason.BLACKLISTED, True),
        # Added the day after the period ended (16:30 UTC on its last day), still there: withheld,
        # and left for a later batch.
        (at(2025, 9, 20, 0, 30), None, ExcludedReason.BLACKLISTED_NOW, False),
        (at(2025, 10, 5, 10), None, ExcludedReason.BLACKLISTED_NOW, False),
        # Off the list the day before the period began: subsidized.
        (at(2025, 3, 1, 10), at(2025, 6, 19, 23), "", True),
        # On it only after the period, and off again by the time the batch is computed.
        (at(2025, 10, 1, 10), at(2025, 10, 8, 10), "", True),
    ],
)
def test_blacklisted_household(world, make_loan, settle, compute_now, added_at, removed_at, reason, claimed):
    loan = make_loan()
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    entry = household_blacklist.blacklist_add(
        acting_user=world.county_office, household=loan.household, reason="恶意逃废债务"
    )
    BlacklistEntry.objects.filter(pk=entry.pk).update(added_at=added_at, removed_at=removed_at)
    batch = compute_now()

    subsidy = dec("0.00") if reason else dec("555.83")
    assert outcome(line_of(batch, loan)) == (92, dec("4.3500"), subsidy, reason, claimed)
    assert batch.total == subsidy


def test_withheld_while_blacklisted_then_paid_by_the_next_batch(
    world, monkeypatch, make_loan, settle, compute_now
):
    loan = make_loan()
    settlement = settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    entry = household_blacklist.blacklist_add(
        acting_user=world.county_office, household=loan.household, reason="恶意逃废债务"
    )
    BlacklistEntry.objects.filter(pk=entry.pk).update(added_at=at(2025, 10, 5, 10))
    q3_batch = compute_now()
    assert outcome(line_of(q3_batch, loan)) == (
        92,
        dec("4.3500"),
        dec("0.00"),
        ExcludedReason.BLACKLISTED_NOW,
        False,
    )

    removal = household_blacklist.blacklist_removal_request(
        acting_user=world.county_office, entry=entry, basis="exception", reason="已还清"
    )
    household_blacklist.blacklist_removal_approve(acting_user=world.officer, removal=removal)
    today_is(monkeypatch, D(2026, 1, 10))
    q4_batch = compute_now(2025, 4)
    # The Q3 settlement, paid in Q3 and no longer withheld: 555.83 as in the full quarter.
    assert outcome(line_of(q4_batch, loan, settlement=settlement)) == (
        92,
        dec("4.3500"),
        dec("555.83"),
        "",
        True,
    )
    assert q4_batch.total == dec("555.83")


def test_household_cap(world, make_loan, settle, compute_now):
    household = HouseholdFactory(village=world.v1a, head__age=38)
    first = make_loan(household=household, amount="30000.00", disbursed_on=D(2025, 3, 20))
    second = make_loan(household=household, amount="30000.00", disbursed_on=D(2025, 4, 10))
    third = make_loan(household=household, amount="10000.00", disbursed_on=D(2025, 5, 1))
    # 30000 × 4.35 × 92 ÷ 36000 = 333.50 exactly; 10000 × 4.35 × 92 ÷ 36000 = 111.1666… → 111.17
    settle(first, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    settle(second, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    settle(third, Q3_START, Q3_END, interest_due="111.17", paid_on=Q3_END)
    # Another household's loan, repaid before the period, does not count against its new one.
    other = HouseholdFactory(village=world.v1a, head__age=39)
    make_loan(
        household=other,
        amount="30000.00",
        disbursed_on=D(2024, 3, 20),
        settled_on=D(2025, 6, 1),
        state=Loan.State.SETTLED,
    )
    new = make_loan(household=other, amount="30000.00", disbursed_on=D(2025, 6, 1))
    settle(new, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    batch = compute_now()

    assert [
        (line.subsidized_principal, *outcome(line))
        for line in (
            line_of(batch, first),
            line_of(batch, second),
            line_of(batch, third),
            line_of(batch, new),
        )
    ] == [
        # min(333.50, 333.50) = 333.50
        (dec("30000.00"), 92, dec("4.3500"), dec("333.50"), "", True),
        # 50000 - 30000 ahead = 20000: min(333.50 × 20000 ÷ 30000, 20000 × 4.35 × 92 ÷ 36000)
        # = min(222.3333…, 222.3333…) → 222.33
        (dec("20000.00"), 92, dec("4.3500"), dec("222.33"), "", True),
        # 50000 - 60000 ahead < 0: nothing left
        (dec("0.00"), 92, dec("4.3500"), dec("0.00"), ExcludedReason.OVER_HOUSEHOLD_CAP, True),
        (dec("30000.00"), 92, dec("4.3500"), dec("333.50"), "", True),
    ]
    assert batch.total == dec("889.33")  # 333.50 + 222.33 + 333.50


def test_subsidy_share_of_the_profile_in_force_at_the_quarters_end(world, make_loan, settle, compute_now):
    share = PolicyProfileFactory(county=world.county, effective_from=D(2025, 7, 1), subsidy_share=dec("0.8"))
    PolicyProfileFactory(county=world.county, effective_from=D(2025, 10, 1), subsidy_share=dec("0.5"))
    loan = make_loan()
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    assert batch.profile == share
    # min(555.83 × 0.8, 50000 × 4.35 × 92 × 0.8 ÷ 36000) = min(444.664, 444.6666…) → 444.66
    assert outcome(line_of(batch, loan)) == (92, dec("4.3500"), dec("444.66"), "", True)
    assert batch.total == dec("444.66")


def test_rounding_is_half_up(world, make_loan, settle, compute_now):
    PolicyProfileFactory(county=world.county, effective_from=D(2025, 7, 1), subsidy_share=dec("0.75"))
    loan = make_loan(amount="10000.00")
    settle(loan, Q3_START, Q3_END, interest_due="111.17", interest_paid="100.06", paid_on=Q3_END)
    batch = compute_now()

    # min(100.06, 111.1666…) × 0.75 = 75.045 → 75.05 (half-up; half-even would give 75.04)
    assert line_of(batch, loan).subsidy == dec("75.05")


def test_lpr_cap_rate_fixed_on_the_contract_date(world, make_loan, settle, compute_now):
    """DOMAIN §6: the cap rate is the one in force on the contract date, fixed for the contract
    like the contract rate, not re-read for every period (the 2025-05-20 LPR cut must not lower
    the cap of a loan contracted before it)."""
    PolicyProfileFactory(
        county=world.county, effective_from=D(2025, 7, 1), subsidy_cap_basis=PolicyProfile.RateBasis.LPR
    )
    short = make_loan(term_months=12)  # contracted 2025-03-20
    long = make_loan(term_months=36)
    q2 = settle(short, D(2025, 3, 20), Q3_START, interest_due="555.83", paid_on=D(2025, 7, 15))  # paid late
    q3_short = settle(short, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    q3_long = settle(long, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    # The Q2 batch finds the Q2 settlement unpaid; the Q3 batch, the next one, takes it.
    assert compute_now(2025, 2).total == dec("0.00")
    batch = compute_now()

    lines = SubsidyLine.objects.filter(batch=batch).order_by("loan_id", "period_start")
    assert [(line.cap_rate, *outcome(line)) for line in lines] == [
        # 1-year LPR on the contract date 2025-03-20 (published 2024-10-21): 3.10.
        # 2025-03-20 → 2025-06-20 = 11 + 30 + 31 + 20 = 92 days; 50000 × 3.10 × 92 ÷ 36000 = 396.1111…
        (dec("3.1000"), 92, dec("3.1000"), dec("396.11"), "", True),
        # Still 3.10 in Q3, though the LPR published 2025-05-20 is 3.00: 396.11 again (not 383.33).
        (dec("3.1000"), 92, dec("3.1000"), dec("396.11"), "", True),
        # 36 months: the 5-year LPR on 2025-03-20, 3.60 (2024-10-21); 50000 × 3.60 × 92 ÷ 36000 = 460.00
        (dec("3.6000"), 92, dec("3.6000"), dec("460.00"), "", True),
    ]
    assert [line.settlement for line in lines] == [q2, q3_short, q3_long]
    assert batch.total == dec("1252.22")  # 396.11 + 396.11 + 460.00


def test_lpr_cap_basis_prices_a_contract_from_before_the_lpr_on_the_benchmark(
    world, make_loan, settle, compute_now
):
    """No LPR existed before 2019-08-20: a contract signed the day before is capped at the
    benchmark (4.35% for 12 months), one signed on the day at the 1-year LPR (4.25%)."""
    PolicyProfileFactory(
        county=world.county, effective_from=D(2025, 7, 1), subsidy_cap_basis=PolicyProfile.RateBasis.LPR
    )
    before = make_loan(term_months=12, disbursed_on=D(2019, 8, 19), maturity_on=D(2026, 8, 19))
    on = make_loan(term_months=12, disbursed_on=D(2019, 8, 20), maturity_on=D(2026, 8, 20))
    # Support periods end in 2022: days 0, but the cap rate is on the line all the same.
    for loan in (before, on):
        settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()
    assert line_of(batch, before).cap_rate == dec("4.3500")
    assert line_of(batch, on).cap_rate == dec("4.2500")


def test_settlements_from_before_last_year_are_no_longer_considered(make_loan, settle, compute_now):
    loan = make_loan(disbursed_on=D(2023, 9, 20), term_months=36)
    # The batch looks back to settlements ending after 2024-01-01.
    old = settle(loan, D(2023, 9, 20), D(2023, 12, 20), interest_due="549.79", paid_on=D(2025, 8, 1))
    recent = settle(loan, D(2023, 12, 20), D(2024, 3, 20), interest_due="549.79", paid_on=D(2025, 8, 1))
    # The county has used the system since 2023 Q4 (both were unpaid then).
    assert compute_now(2023, 4).total == dec("0.00")
    batch = compute_now()
    assert batch.considers_from == D(2024, 1, 1)

    # Not dropped silently: a final line says why it is not subsidized.
    old_line = line_of(batch, loan, settlement=old)
    assert (old_line.subsidy, old_line.excluded_reason, old_line.claimed) == (
        dec("0.00"),
        ExcludedReason.BEFORE_WINDOW,
        True,
    )
    # 2023-12-20 → 2024-03-20 = 11 + 31 + 29 + 20 = 91 days; cap 549.7916…, paid 549.79 → 549.79
    assert outcome(line_of(batch, loan, settlement=recent)) == (91, dec("4.3500"), dec("549.79"), "", True)
    # Decided once and for all (the 2023 Q4 batch's line only waited for the payment).
    assert list(SubsidyLine.objects.filter(settlement=old, claimed=True).values_list("batch", flat=True)) == [
        batch.pk
    ]


def test_every_loan_open_in_the_quarter_has_a_line(world, make_loan, settle, compute_now):
    no_settlement_yet = make_loan(disbursed_on=D(2025, 9, 25))
    settled_in_quarter = make_loan(
        disbursed_on=D(2024, 8, 15),
        settled_on=D(2025, 8, 15),
        term_months=12,
        state=Loan.State.SETTLED,
    )
    make_loan(disbursed_on=D(2024, 5, 1), settled_on=D(2025, 6, 1), state=Loan.State.SETTLED)
    make_loan(disbursed_on=D(2025, 10, 5))
    make_loan(household=HouseholdFactory(village=world.vz, head__age=40), disbursed_on=D(2025, 3, 20))
    batch = compute_now()

    lines = SubsidyLine.objects.filter(batch=batch).order_by("loan_id")
    assert [
        (line.loan, line.settlement, line.principal, line.excluded_reason, line.claimed) for line in lines
    ] == [
        (no_settlement_yet, None, dec("50000.00"), ExcludedReason.NO_SETTLEMENT, False),
        (settled_in_quarter, None, dec("50000.00"), ExcludedReason.NO_SETTLEMENT, False),
    ]
    # All four loans of county A were chunked; only those considered have lines.
    assert (batch.progress_total, batch.line_count, batch.subsidized_count, batch.total) == (
        4,
        2,
        0,
        dec("0"),
    )


def test_a_loan_whose_settlements_an_earlier_batch_decided_is_listed_without_one(
    monkeypatch, make_loan, settle, compute_now
):
    loan = make_loan()
    # 2025-03-20 → 2025-06-20 = 11 + 30 + 31 + 20 = 92 days: 555.83, as in the full quarter.
    q2 = settle(loan, D(2025, 3, 20), Q3_START, interest_due="555.83", paid_on=Q3_START)
    today_is(monkeypatch, D(2025, 7, 10))
    q2_batch = compute_now(2025, 2)
    assert outcome(line_of(q2_batch, loan, settlement=q2)) == (92, dec("4.3500"), dec("555.83"), "", True)

    # The Q3 settlement is not imported yet: the Q3 batch lists the loan, with nothing due.
    today_is(monkeypatch, D(2025, 10, 10))
    q3_batch = compute_now(2025, 3)
    line = line_of(q3_batch, loan)
    assert (line.settlement, line.subsidy, line.excluded_reason, line.claimed) == (
        None,
        dec("0.00"),
        ExcludedReason.NO_SETTLEMENT,
        False,
    )
    assert SubsidyLine.objects.filter(settlement=q2).count() == 1


def test_no_cap_rate_waits_for_the_rate(make_loan, settle, compute_now):
    loan = make_loan()
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    Rate.objects.filter(kind=Rate.Kind.BENCHMARK, tenor=Rate.Tenor.Y1_TO_5).delete()
    batch = compute_now()

    assert outcome(line_of(batch, loan)) == (92, None, dec("0.00"), ExcludedReason.NO_CAP_RATE, False)


def test_a_settlement_is_claimed_once_by_database_constraint(make_loan, settle, compute_now):
    loan = make_loan()
    settlement = settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()
    first = line_of(batch, loan)
    assert first.claimed

    second = SubsidyLine(
        batch=batch,
        loan=loan,
        household=loan.household,
        village=first.village,
        settlement=settlement,
        subsidy=dec("555.83"),
        claimed=True,
    )
    with pytest.raises(IntegrityError, match="subsidy_settlement_once"), transaction.atomic():
        second.save()
    # An unclaimed line (a waiting one, or one of a cancelled batch) may name it again.
    second.claimed, second.subsidy, second.excluded_reason = False, dec("0"), ExcludedReason.UNPAID
    second.save()
    assert SubsidyLine.objects.filter(settlement=settlement).count() == 2


@pytest.mark.parametrize("basis", [Rate.Kind.BENCHMARK, Rate.Kind.LPR])
@pytest.mark.parametrize("contract_date", [D(2015, 10, 24), D(2019, 8, 19), D(2019, 8, 20), D(2025, 3, 20)])
def test_sql_rate_table_and_tenor_agree_with_the_selectors(db, basis, contract_date):
    sql = (
        f"SELECT l.term_months, {compute._KIND_SQL}, {compute._TENOR_SQL}"
        " FROM (SELECT t AS term_months, %(day)s::date AS disbursed_on FROM generate_series(1, 400) t) l"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"basis": basis, "lpr_since": LPR_SINCE, "day": contract_date})
        rows = cursor.fetchall()
    assert len(rows) == 400
    kind = rate_kind_for(basis=basis, contract_date=contract_date)
    assert rows == [(term, kind, tenor_for(basis=kind, term_months=term)) for term in range(1, 401)]


def test_the_first_batch_considers_only_its_own_quarter(make_loan, settle, compute_now):
    """Settlements in the books from before the county's first batch (imported with its existing
    loans) were subsidized, or not, outside this system: the first batch leaves them alone, so
    nothing is paid twice. Later batches take late payments from then on."""
    loan = make_loan()
    before = settle(loan, D(2025, 3, 20), Q3_START, interest_due="555.83", paid_on=D(2025, 7, 2))
    current = settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()
    assert batch.considers_from == D(2025, 7, 1)
    # Listed, with its reason, and decided for good.
    line = line_of(batch, loan, settlement=before)
    assert (line.subsidy, line.excluded_reason, line.claimed) == (
        dec("0.00"),
        ExcludedReason.BEFORE_WINDOW,
        True,
    )
    assert outcome(line_of(batch, loan, settlement=current)) == (92, dec("4.3500"), dec("555.83"), "", True)


def test_a_compensated_loan_uses_none_of_the_household_cap(world, make_loan, settle, compute_now):
    """A loan the risk fund compensated (or the bank wrote off) bears no interest any more, so it
    leaves the household's subsidized principal to its other loans, though it has no settled_on."""
    household = HouseholdFactory(village=world.v1a, head__age=41)
    make_loan(
        household=household, amount="40000.00", disbursed_on=D(2023, 3, 20), state=Loan.State.COMPENSATED
    )
    make_loan(
        household=household, amount="30000.00", disbursed_on=D(2024, 3, 20), state=Loan.State.WRITTEN_OFF
    )
    current = make_loan(household=household, amount="50000.00", disbursed_on=D(2025, 3, 20))
    settle(current, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()
    # Nothing ahead: 50000 × 4.35 × 92 ÷ 36000 = 555.8333… → 555.83
    line = line_of(batch, current)
    assert (line.subsidized_principal, *outcome(line)) == (
        dec("50000.00"),
        92,
        dec("4.3500"),
        dec("555.83"),
        "",
        True,
    )


# ---- rules fixed by issue 9: maturity, outstanding principal, unconfirmed interest ------------------


def test_no_subsidy_for_days_after_maturity(world, make_loan, settle, compute_now):
    """P1 art.24: subsidized "before the loan's maturity"; what accrues after it is penalty
    interest (DOMAIN §6). The bank's list runs the period on to the settlement day anyway."""
    matured = make_loan(
        term_months=12, disbursed_on=D(2024, 8, 5), maturity_on=D(2025, 8, 5), state=Loan.State.OVERDUE
    )
    settle(matured, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    extended = make_loan(
        term_months=12, disbursed_on=D(2024, 8, 6), maturity_on=D(2026, 2, 6), state=Loan.State.EXTENDED
    )  # matured 2025-08-06, extended by six months: the extension keeps the subsidy
    settle(extended, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    over = make_loan(
        term_months=12, disbursed_on=D(2024, 6, 1), maturity_on=D(2025, 6, 1), state=Loan.State.OVERDUE
    )
    settle(over, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    batch = compute_now()

    line = line_of(batch, matured)
    # 2025-06-20 → 2025-08-05 = 10 + 31 + 4 = 46 days; 50000 × 4.35 × 46 ÷ 36000 = 277.9166… → 277.92
    assert (line.period_days, *outcome(line), line.reduced_reason) == (
        92,
        46,
        dec("4.3500"),
        dec("277.92"),
        "",
        True,
        ReducedReason.AFTER_MATURITY,
    )
    assert outcome(line_of(batch, extended)) == (92, dec("4.3500"), dec("555.83"), "", True)
    assert line_of(batch, extended).reduced_reason == ""
    # Matured before the period began: nothing, and the line says why.
    assert outcome(line_of(batch, over)) == (
        0,
        dec("4.3500"),
        dec("0.00"),
        ExcludedReason.AFTER_MATURITY,
        True,
    )
    assert batch.total == dec("833.75")  # 277.92 + 555.83


def test_household_cap_counts_principal_outstanding_not_original_amounts(
    world, officer_repays, make_loan, settle, compute_now
):
    """DOMAIN §6: the cap counts the principal actually outstanding in the period. The household
    borrowed 50,000, repaid 30,000 and took an additional 30,000: 20,000 + 30,000 is within the
    50,000 cap, so both are subsidized in full (counting original amounts gave the second loan
    nothing)."""
    household = HouseholdFactory(village=world.v1a, head__age=44)
    first = make_loan(household=household, amount="50000.00", disbursed_on=D(2025, 3, 20))
    officer_repays(first, "30000.00", D(2025, 6, 1))
    added = make_loan(household=household, amount="30000.00", disbursed_on=D(2025, 6, 10))
    # 20000 × 4.35 × 92 ÷ 36000 = 222.3333… → 222.33; 30000 × 4.35 × 92 ÷ 36000 = 333.50
    settle(first, Q3_START, Q3_END, interest_due="222.33", paid_on=Q3_END, principal="20000.00")
    settle(added, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    # Another household repays during the period: on the period's first day its first loan still
    # owed 50,000, so its second loan has none of the cap left for this period.
    later = HouseholdFactory(village=world.v1a, head__age=45)
    big = make_loan(household=later, amount="50000.00", disbursed_on=D(2025, 3, 20))
    officer_repays(big, "30000.00", D(2025, 7, 1))
    small = make_loan(household=later, amount="20000.00", disbursed_on=D(2025, 6, 10))
    settle(big, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    # 20000 × 4.35 × 92 ÷ 36000 = 222.33
    settle(small, Q3_START, Q3_END, interest_due="222.33", paid_on=Q3_END)
    batch = compute_now()

    assert [
        (line_of(batch, loan).subsidized_principal, line_of(batch, loan).subsidy) for loan in (first, added)
    ] == [
        (dec("20000.00"), dec("222.33")),
        (dec("30000.00"), dec("333.50")),
    ]
    assert (line_of(batch, small).subsidized_principal, line_of(batch, small).excluded_reason) == (
        dec("0.00"),
        ExcludedReason.OVER_HOUSEHOLD_CAP,
    )
    assert batch.total == dec("1111.66")  # 222.33 + 333.50 + 555.83


def test_a_partly_capped_line_says_so(world, make_loan, settle, compute_now):
    household = HouseholdFactory(village=world.v1a, head__age=46)
    make_loan(household=household, amount="40000.00", disbursed_on=D(2025, 1, 10))
    second = make_loan(household=household, amount="30000.00", disbursed_on=D(2025, 3, 20))
    settle(second, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    batch = compute_now()
    line = line_of(batch, second)
    # 50000 - 40000 = 10000 subsidized: 10000 × 4.35 × 92 ÷ 36000 = 111.1666… → 111.17
    assert (line.subsidized_principal, line.subsidy, line.reduced_reason) == (
        dec("10000.00"),
        dec("111.17"),
        ReducedReason.HOUSEHOLD_CAP,
    )


def test_unconfirmed_interest_waits_for_the_loan_officer(world, monkeypatch, make_loan, settle, compute_now):
    loan = make_loan()
    settlement = settle(loan, Q3_START, Q3_END, interest_due="560.00", paid_on=Q3_END)
    Settlement.objects.filter(pk=settlement.pk).update(needs_review=True)
    batch = compute_now()
    assert outcome(line_of(batch, loan)) == (
        92,
        dec("4.3500"),
        dec("0.00"),
        ExcludedReason.INTEREST_UNCONFIRMED,
        False,
    )

    Settlement.objects.filter(pk=settlement.pk).update(needs_review=False)
    today_is(monkeypatch, D(2026, 1, 10))
    q4 = compute_now(2025, 4)
    # Confirmed: min(560.00, 50000 × 4.35 × 92 ÷ 36000 = 555.8333…) → 555.83
    assert outcome(line_of(q4, loan, settlement=settlement)) == (92, dec("4.3500"), dec("555.83"), "", True)


@pytest.fixture
def officer_repays(world):
    """A principal repayment through the servicing service, as the branch's loan officer."""
    from loans.services.servicing import repayment_record

    def repay(loan, principal: str, on: datetime.date):
        with time_machine.travel(datetime.datetime.combine(on, datetime.time(15), tzinfo=BEIJING)):
            repayment_record(acting_user=world.officer, loan=loan, principal=dec(principal), paid_on=on)
        loan.refresh_from_db()

    return repay


def test_household_cap_counts_a_renewed_loan_until_its_renewal(world, make_loan, settle, compute_now):
    """A renewal closes the old loan without a repayment: until the renewal day it still owed its
    whole principal. Household: A 30,000 (2023-07-15) renewed on 2025-07-15, C 30,000 (2024-03-20).
    For C's period from 2025-06-20, A owed 30,000: C is subsidized on 50,000 - 30,000 = 20,000,
    so the household never has more than 50,000 subsidized on a day."""
    household = HouseholdFactory(village=world.v1a, head__age=47)
    old = make_loan(
        household=household,
        amount="30000.00",
        disbursed_on=D(2023, 7, 15),
        settled_on=D(2025, 7, 15),
        state=Loan.State.SETTLED,
    )
    make_loan(household=household, amount="30000.00", disbursed_on=D(2025, 7, 15), original_loan=old)
    c = make_loan(household=household, amount="30000.00", disbursed_on=D(2024, 3, 20))
    settle(c, Q3_START, Q3_END, interest_due="333.50", paid_on=Q3_END)
    batch = compute_now()
    line = line_of(batch, c)
    # 20000 × 4.35 × 92 ÷ 36000 = 222.3333… → 222.33
    assert (line.subsidized_principal, line.subsidy, line.reduced_reason) == (
        dec("20000.00"),
        dec("222.33"),
        ReducedReason.HOUSEHOLD_CAP,
    )


def test_a_period_past_maturity_is_decided_even_without_a_cap_rate(make_loan, settle, compute_now):
    """No cap rate is a waiting reason; a period wholly after maturity is final whatever the rate
    table says, so it must not wait for a rate that would change nothing."""
    loan = make_loan(term_months=12, disbursed_on=D(2024, 6, 1), maturity_on=D(2025, 6, 1))
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    Rate.objects.filter(kind=Rate.Kind.BENCHMARK, tenor=Rate.Tenor.UP_TO_1Y).delete()
    batch = compute_now()
    line = line_of(batch, loan)
    assert (line.excluded_reason, line.claimed) == (ExcludedReason.AFTER_MATURITY, True)


@pytest.mark.parametrize(
    ("day", "years"), [("2024-02-29", 3), ("2024-02-29", 4), ("2023-03-31", 1), ("2025-12-31", 3)]
)
def test_sqlite_support_end_agrees_with_postgresql(db, day, years):
    """The support period's end on the demo's SQLite is PostgreSQL's (29 February + 3 years is
    28 February there; SQLite's own date() says 1 March)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (%s::date + make_interval(years => %s))::date", [day, years])
        (postgres,) = cursor.fetchone()
    assert compute._fin_add_years(day, years) == postgres.isoformat()
