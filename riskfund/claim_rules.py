"""The loss claim's rules (DOMAIN §7-8; P1 arts. 20-21, 8(3)) as plain reads: which triggers a
loan may be claimed under, the first day each one allows a claim, the insurance that must pay
first, the loss and its exact split. The service (services/claims.py) judges a filing with them,
and the pages (through selectors.py) show the same dates and figures before anyone files.

No user scoping here: callers pass a loan they already hold in scope."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Sum

from loans.choices import UseMode
from loans.models import BorrowerEvent, InsurancePayout, InsurancePolicy, Loan, Settlement
from policies.models import PolicyProfile

from .models import ZERO, CompensationClaim, RiskFund

FEN = Decimal("0.01")
Trigger = CompensationClaim.Trigger
ENTRUSTED_MODES = (UseMode.ENTRUSTED, UseMode.INDIRECT)


def county_id(loan: Loan) -> int:
    """The county of the loan's household (village → township → county)."""
    return loan.household.village.parent.parent_id


def fund_for(loan: Loan) -> RiskFund | None:
    """The fund of the loan's county at the loan's bank (the branch's parent)."""
    return (
        RiskFund.objects.select_related("county")
        .filter(county_id=county_id(loan), bank_id=loan.branch.parent_id)
        .first()
    )


def death_on(loan: Loan) -> datetime.date | None:
    """The borrower's recorded death date, or None."""
    return (
        BorrowerEvent.objects.filter(member_id=loan.borrower_id, kind=BorrowerEvent.Kind.DEATH)
        .values_list("occurred_on", flat=True)
        .first()
    )


def triggers_for(loan: Loan, *, died_on: datetime.date | None = None) -> list[str]:
    """The triggers this loan may be claimed under: `entrusted` for a cooperative or entrusted
    loan, `death` when the borrower died, `default` for any other loan."""
    found = []
    if loan.use_mode in ENTRUSTED_MODES:
        found.append(Trigger.ENTRUSTED)
    if died_on is not None:
        found.append(Trigger.DEATH)
    return found or [Trigger.DEFAULT]


def overdue_from(loan: Loan) -> datetime.date | None:
    """The day the loan's overdue starts (or started), as the overnight ageing counts days past
    due (loans/services/servicing.py overdue_refresh): the earliest end of an unpaid settlement
    period, or maturity while principal is outstanding. None when nothing is due."""
    due = list(
        Settlement.objects.filter(loan=loan, paid_on__isnull=True)
        .order_by("period_end")
        .values_list("period_end", flat=True)[:1]
    )
    if loan.outstanding > 0:
        due.append(loan.maturity_on)
    return min(due) if due else None


def eligible_on(
    loan: Loan,
    trigger: str,
    profile: PolicyProfile,
    *,
    died_on: datetime.date | None = None,
    overdue_start: datetime.date | None | bool = False,
) -> datetime.date | None:
    """The first day a claim under `trigger` may be filed, or None when the trigger does not apply
    (or, for a default, nothing is due)."""
    if trigger not in triggers_for(loan, died_on=died_on):
        return None
    if trigger == Trigger.ENTRUSTED:
        return loan.maturity_on + relativedelta(months=profile.entrusted_wait_months)
    if trigger == Trigger.DEATH:
        return loan.maturity_on + relativedelta(months=profile.death_wait_months)
    # `overdue_start` when the caller already read it (False: read it here).
    start = overdue_from(loan) if overdue_start is False else overdue_start
    return None if start is None else start + datetime.timedelta(days=profile.default_wait_days)


def pending_insurance(loan: Loan, event_on: datetime.date) -> InsurancePolicy | None:
    """A policy of the loan covering `event_on` with no payout recorded yet: insurance pays first
    (P1 art.21), so the claim waits for it."""
    return (
        InsurancePolicy.objects.filter(loan=loan, starts_on__lte=event_on, ends_on__gte=event_on)
        .filter(payouts__isnull=True)
        .order_by("starts_on", "pk")
        .first()
    )


def split(loss: Decimal, ratio: Decimal, remainder_to: str) -> tuple[Decimal, Decimal]:
    """(fund share, bank share) of `loss`: the fund's share rounded to the fen away from the side
    that gets the remainder (down when the bank gets it, up when the fund does); the bank's share
    is the rest, so the two add up to the loss exactly."""
    rounding = ROUND_UP if remainder_to == CompensationClaim.RemainderTo.FUND else ROUND_DOWN
    fund_share = (loss * ratio).quantize(FEN, rounding=rounding)
    return fund_share, loss - fund_share


@dataclass(frozen=True)
class Loss:
    principal: Decimal
    interest: Decimal
    insurance_paid: Decimal
    fund_ratio: Decimal
    remainder_to: str

    @property
    def loss(self) -> Decimal:
        return self.principal + self.interest - self.insurance_paid

    @property
    def shares(self) -> tuple[Decimal, Decimal]:
        return split(self.loss, self.fund_ratio, self.remainder_to)

    @property
    def fund_share(self) -> Decimal:
        return self.shares[0]

    @property
    def bank_share(self) -> Decimal:
        return self.shares[1]


def loss_for(loan: Loan, profile: PolicyProfile) -> Loss:
    """Principal outstanding, plus the interest due on unpaid settlements when the profile counts
    it, less what insurance paid on the loan's policies (DOMAIN §8: other costs never count)."""
    interest = ZERO
    if profile.loss_includes_interest:
        interest = (
            Settlement.objects.filter(loan=loan, paid_on__isnull=True).aggregate(total=Sum("interest_due"))[
                "total"
            ]
            or ZERO
        )
    insurance = (
        InsurancePayout.objects.filter(policy__loan=loan).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    return Loss(
        principal=loan.outstanding,
        interest=interest,
        insurance_paid=insurance,
        fund_ratio=profile.fund_loss_share,
        remainder_to=profile.loss_remainder_to,
    )
