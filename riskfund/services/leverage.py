"""The leverage cap (放大倍数, DOMAIN §4.6 and §8; P1 art.38): the bank's outstanding loans of this
kind in the county stay within the fund's balance × the profile's multiple. Judged inside every
disbursement's transaction (a first loan, an additional loan, a renewal) under the fund's row lock,
so two disbursements at the edge take turns and the second sees the first."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _

from core.exceptions import rule_failed
from loans.models import Loan, LoanApplication
from policies.selectors import county_of, profile_for

from ..exceptions import LEVERAGE_SOURCE
from ..models import ZERO, RiskFund
from . import ledger

WARNING_SHARE = Decimal("0.90")


@dataclass(frozen=True)
class Headroom:
    fund: RiskFund
    balance: Decimal
    multiple: Decimal
    outstanding: Decimal

    @property
    def cap(self) -> Decimal:
        return (self.balance * self.multiple).quantize(Decimal("0.01"))

    @property
    def headroom(self) -> Decimal:
        return self.cap - self.outstanding

    @property
    def used(self) -> Decimal | None:
        """The share of the cap in use (None when there is no cap at all)."""
        return (self.outstanding / self.cap) if self.cap > 0 else None

    @property
    def warning(self) -> bool:
        """At 90 % use or more (or with nothing in the fund) the pages warn."""
        return self.used is None or self.used >= WARNING_SHARE


def outstanding(fund: RiskFund) -> Decimal:
    """Principal outstanding on the bank's open loans to households of the fund's county."""
    total = Loan.objects.filter(
        state__in=Loan.OPEN_STATES,
        branch__parent_id=fund.bank_id,
        household__village__parent__parent_id=fund.county_id,
    ).aggregate(total=Sum("outstanding"))["total"]
    return total or ZERO


def headroom(fund: RiskFund, *, on_date: datetime.date) -> Headroom:
    profile = profile_for(county=fund.county, on_date=on_date)
    return Headroom(
        fund=fund,
        balance=ledger.balance(fund),
        multiple=profile.leverage_multiple,
        outstanding=outstanding(fund),
    )


def leverage_check(*, application: LoanApplication, amount: Decimal, on_date: datetime.date) -> None:
    """Registered with loans.disbursement_checks (apps.py). Refuses the disbursement when the bank's
    outstanding in the county plus `amount` would pass balance × multiple; a renewal counts only
    what it adds, since the loan it replaces is settled in the same transaction."""
    county = county_of(application.household.village)
    bank_id = application.branch.parent_id
    fund = RiskFund.objects.select_for_update(of=("self",)).filter(county=county, bank_id=bank_id).first()
    if fund is None:
        message = _(
            "No risk-compensation fund is recorded for %(county)s at this bank: without one the bank may "
            "not lend (%(source)s). Finance staff record the fund and its deposit first."
        ) % {"county": county.name, "source": LEVERAGE_SOURCE}
        raise rule_failed("leverage_cap", message, LEVERAGE_SOURCE)
    room = headroom(fund, on_date=on_date)
    asked = amount
    if application.kind == LoanApplication.Kind.RENEWAL and application.related_loan_id is not None:
        replaced = (
            Loan.objects.filter(pk=application.related_loan_id, state__in=Loan.OPEN_STATES)
            .values_list("outstanding", flat=True)
            .first()
        )
        asked = amount - (replaced or ZERO)
    if room.outstanding + asked <= room.cap:
        return
    message = _(
        "The leverage cap would be passed: the fund holds %(balance)s yuan × %(multiple)s = %(cap)s yuan of "
        "lending; the bank's outstanding in the county is %(outstanding)s yuan, leaving %(headroom)s yuan; "
        "this loan asks for %(amount)s yuan (%(source)s)."
    ) % {
        "balance": f"{room.balance:,.2f}",
        "multiple": f"{room.multiple.normalize():f}",
        "cap": f"{room.cap:,.2f}",
        "outstanding": f"{room.outstanding:,.2f}",
        "headroom": f"{max(room.headroom, ZERO):,.2f}",
        "amount": f"{asked:,.2f}",
        "source": LEVERAGE_SOURCE,
    }
    raise rule_failed(
        "leverage_cap",
        message,
        LEVERAGE_SOURCE,
        extra={
            "balance": str(room.balance),
            "multiple": str(room.multiple),
            "outstanding": str(room.outstanding),
            "headroom": str(room.headroom),
            "amount": str(asked),
        },
    )
