"""A contract's interest schedule and accrual (DOMAIN §5): interest accrues daily at the annual
rate / 360 (日利率 = 年利率 ÷ 360) and is settled quarterly on the settlement day (the 20th unless
the profile says otherwise) of March, June, September and December. Pure functions, no database.

Day count: "算头不算尾", the convention of Chinese bank loan contracts. A period runs from its start
day inclusive to its end day exclusive, so its days are `end - start`, and the next period starts
on the day the previous one ended: the settlement day (结息日) itself is accrued in the following
period, and every day of the loan is counted exactly once, from disbursement up to maturity."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
DAYS_PER_YEAR = 360
SETTLEMENT_MONTHS = (3, 6, 9, 12)


@dataclass(frozen=True)
class Period:
    start: datetime.date  # inclusive
    end: datetime.date  # exclusive: the settlement day or the maturity date

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def period_days(start: datetime.date, end: datetime.date) -> int:
    """Days of interest from `start` (counted) to `end` (not counted)."""
    return (end - start).days


def interest_for(principal: Decimal, rate: Decimal, days: int) -> Decimal:
    """principal × rate% / 100 × days / 360, to the fen, half up. Rounded once, at the end."""
    exact = Decimal(principal) * Decimal(rate) / Decimal(100) * Decimal(days) / Decimal(DAYS_PER_YEAR)
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def settlement_dates(start: datetime.date, end: datetime.date, day: int = 20) -> list[datetime.date]:
    """The quarterly settlement days strictly after `start` and strictly before `end`."""
    dates = []
    year = start.year
    while True:
        for month in SETTLEMENT_MONTHS:
            date = datetime.date(year, month, day)
            if date >= end:
                return dates
            if date > start:
                dates.append(date)
        year += 1


def schedule(
    *, disbursed_on: datetime.date, maturity_on: datetime.date, settlement_day: int = 20
) -> list[Period]:
    """The settlement periods: the first from disbursement to the first settlement day after it,
    then quarter by quarter, the last ending at maturity. A loan disbursed on a settlement day
    starts its first period that day (a zero-day period is never produced); a loan maturing on a
    settlement day ends with the period that ends that day."""
    if maturity_on <= disbursed_on:
        return []
    bounds = [disbursed_on, *settlement_dates(disbursed_on, maturity_on, settlement_day), maturity_on]
    return [Period(start, end) for start, end in zip(bounds, bounds[1:], strict=False)]


def schedule_with_interest(
    *,
    principal: Decimal,
    rate: Decimal,
    disbursed_on: datetime.date,
    maturity_on: datetime.date,
    settlement_day: int = 20,
) -> list[tuple[Period, Decimal]]:
    """Each period with the interest due on `principal` (the contract's, before any repayment)."""
    return [
        (period, interest_for(principal, rate, period.days))
        for period in schedule(
            disbursed_on=disbursed_on, maturity_on=maturity_on, settlement_day=settlement_day
        )
    ]
