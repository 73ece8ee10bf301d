"""The interest schedule and accrual (DOMAIN §5), against amounts computed by hand. Periods count
their start day and not their end day (算头不算尾)."""

import datetime
from decimal import Decimal

import pytest

from loans.interest import (
    Period,
    interest_for,
    period_days,
    schedule,
    schedule_with_interest,
    settlement_dates,
)

D = datetime.date


def test_a_quarter_at_360_days_a_year():
    # 10,000 × 4.35% × 90 / 360 = 108.75 exactly.
    assert interest_for(Decimal("10000"), Decimal("4.35"), 90) == Decimal("108.75")


def test_rounded_once_to_the_fen_half_up():
    # 30,000 × 4.75% × 92 / 360 = 364.1666… → 364.17
    assert interest_for(Decimal("30000.00"), Decimal("4.7500"), 92) == Decimal("364.17")
    # 50 × 3.6% / 360 = 0.005 exactly: half up gives a fen (banker's rounding would give 0.00).
    assert interest_for(Decimal("50"), Decimal("3.6"), 1) == Decimal("0.01")
    assert interest_for(Decimal("50000"), Decimal("4.35"), 0) == Decimal("0.00")


def test_period_counts_the_start_and_not_the_end():
    assert period_days(D(2024, 3, 20), D(2024, 6, 20)) == 92
    assert Period(D(2024, 3, 20), D(2024, 3, 21)).days == 1


def test_schedule_over_a_leap_year():
    periods = schedule(disbursed_on=D(2023, 11, 15), maturity_on=D(2024, 11, 15))
    assert [(p.start, p.end, p.days) for p in periods] == [
        (D(2023, 11, 15), D(2023, 12, 20), 35),
        (D(2023, 12, 20), D(2024, 3, 20), 91),  # 31 + 31 + 29 (February 2024)
        (D(2024, 3, 20), D(2024, 6, 20), 92),
        (D(2024, 6, 20), D(2024, 9, 20), 92),
        (D(2024, 9, 20), D(2024, 11, 15), 56),
    ]
    # Every day of the loan counted once: 2024 has 366 days.
    assert sum(p.days for p in periods) == 366
    lines = schedule_with_interest(
        principal=Decimal("30000"),
        rate=Decimal("4.35"),
        disbursed_on=D(2023, 11, 15),
        maturity_on=D(2024, 11, 15),
    )
    # 30,000 × 4.35% = 1,305 a year: × 35/360 = 126.875 → 126.88; × 91/360 = 329.875 → 329.88;
    # × 92/360 = 333.50; × 56/360 = 203.00
    assert [amount for _p, amount in lines] == [
        Decimal("126.88"),
        Decimal("329.88"),
        Decimal("333.50"),
        Decimal("333.50"),
        Decimal("203.00"),
    ]


def test_schedule_from_a_month_end():
    periods = schedule(disbursed_on=D(2024, 1, 31), maturity_on=D(2024, 4, 30))
    # 29 days to 29 February, 20 more to 20 March; then 11 days of March and 30 of April.
    assert [(p.start, p.end, p.days) for p in periods] == [
        (D(2024, 1, 31), D(2024, 3, 20), 49),
        (D(2024, 3, 20), D(2024, 4, 30), 41),
    ]


def test_disbursed_and_maturing_on_settlement_days():
    periods = schedule(disbursed_on=D(2024, 3, 20), maturity_on=D(2024, 9, 20))
    assert [(p.start, p.end) for p in periods] == [
        (D(2024, 3, 20), D(2024, 6, 20)),
        (D(2024, 6, 20), D(2024, 9, 20)),
    ]


def test_profile_settlement_day():
    assert settlement_dates(D(2024, 1, 1), D(2025, 1, 1), 21) == [
        D(2024, 3, 21),
        D(2024, 6, 21),
        D(2024, 9, 21),
        D(2024, 12, 21),
    ]


@pytest.mark.parametrize("maturity", [D(2024, 1, 1), D(2023, 12, 31)])
def test_no_periods_without_a_term(maturity):
    assert schedule(disbursed_on=D(2024, 1, 1), maturity_on=maturity) == []
