"""The leverage cap (放大倍数, DOMAIN §4.6 and §8; P1 art.38): the bank's outstanding loans of this
kind in the county stay within the fund's balance × the profile's multiple. Judged inside every
disbursement's transaction (a first loan, an additional loan, a renewal) under the fund's row lock,
so two disbursements at the edge take turns and the second sees the first.

The rule and its figures live here only: the disbursement check (`leverage_check`, registered with
loans.disbursement_checks) and the headroom the pages show (`headrooms`, read through
riskfund.selectors.headroom_for) count the same loans the same way."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from core.exceptions import rule_failed
from loans.models import Loan, LoanApplication
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for

from ..exceptions import LEVERAGE_SOURCE
from ..models import MONEY, ZERO, Account, LedgerEntry, RiskFund
from . import ledger

WARNING_SHARE = Decimal("0.90")
FEN = Decimal("0.01")


@dataclass(frozen=True)
class Headroom:
    """The fund's lending room. `multiple` is None when the county has no profile in force (then
    there is no cap to lend under)."""

    fund: RiskFund
    balance: Decimal
    multiple: Decimal | None
    outstanding: Decimal

    @property
    def cap(self) -> Decimal:
        if self.multiple is None:
            return ZERO
        return (self.balance * self.multiple).quantize(FEN, rounding=ROUND_HALF_UP)

    @property
    def headroom(self) -> Decimal:
        """What may still be lent (negative when the cap is already passed)."""
        return self.cap - self.outstanding

    @property
    def used(self) -> Decimal | None:
        """The share of the cap in use (None when there is no cap at all)."""
        return (self.outstanding / self.cap) if self.cap > 0 else None

    @property
    def used_percent(self) -> Decimal | None:
        """The share in use as a percentage to one decimal, rounded down so 89.99 % reads 89.9 %,
        never a 90.0 % without the warning."""
        used = self.used
        return None if used is None else (used * 100).quantize(Decimal("0.1"), rounding=ROUND_DOWN)

    @property
    def warning(self) -> bool:
        """At 90 % use or more (or with nothing to lend under) the pages warn."""
        return self.used is None or self.used >= WARNING_SHARE


def _loans_of(bank_id, county_id) -> QuerySet[Loan]:
    """The loans that count against a fund: open (active, overdue, extended — not settled, renewed
    away, compensated or written off), lent by a branch of the fund's bank to a household of its
    county."""
    return Loan.objects.filter(
        state__in=Loan.OPEN_STATES,
        branch__parent_id=bank_id,
        household__village__parent__parent_id=county_id,
    )


def outstanding(fund: RiskFund) -> Decimal:
    """Principal outstanding on the bank's open loans to households of the fund's county."""
    total = _loans_of(fund.bank_id, fund.county_id).aggregate(total=Sum("outstanding"))["total"]
    return total or ZERO


def headroom(fund: RiskFund, *, on_date: datetime.date) -> Headroom:
    """One fund's room now, under the multiple of the county's profile in force on `on_date`."""
    profile = profile_for(county=fund.county, on_date=on_date)
    return Headroom(
        fund=fund,
        balance=ledger.balance(fund),
        multiple=profile.leverage_multiple,
        outstanding=outstanding(fund),
    )


def _money(subquery) -> Coalesce:
    field = DecimalField(**MONEY)
    return Coalesce(Subquery(subquery, output_field=field), Value(ZERO), output_field=field)


def headrooms(funds: QuerySet[RiskFund], *, on_date: datetime.date) -> list[Headroom]:
    """The room of each fund in `funds`, in two queries whatever their number: the funds with their
    balance and outstanding summed in the database, then the multiples of their counties' profiles
    in force on `on_date`. The figures are those `leverage_check` judges a disbursement by."""
    balance = (
        LedgerEntry.objects.filter(fund=OuterRef("pk"), account=Account.FUND)
        .order_by()
        .values("fund")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    lent = (
        _loans_of(OuterRef("bank_id"), OuterRef("county_id"))
        .order_by()
        .values("branch__parent_id")
        .annotate(total=Sum("outstanding"))
        .values("total")
    )
    rows = list(
        funds.select_related("county", "bank")
        .annotate(headroom_balance=_money(balance), headroom_outstanding=_money(lent))
        .order_by("county__code", "bank__code")
    )
    if not rows:
        return []
    multiples: dict[int, Decimal] = {}
    for county_id, multiple in (
        PolicyProfile.objects.filter(county_id__in={f.county_id for f in rows}, effective_from__lte=on_date)
        .order_by("county_id", "-effective_from")
        .values_list("county_id", "leverage_multiple")
    ):
        multiples.setdefault(county_id, multiple)
    return [
        Headroom(
            fund=f,
            balance=f.headroom_balance,
            multiple=multiples.get(f.county_id),
            outstanding=f.headroom_outstanding,
        )
        for f in rows
    ]


def _replaced_outstanding(application: LoanApplication, fund: RiskFund) -> Decimal:
    """What a renewal takes off the fund's outstanding: the loan it replaces, settled in the same
    transaction — counted only when that loan counts against this fund and is still open."""
    if application.kind != LoanApplication.Kind.RENEWAL or application.related_loan_id is None:
        return ZERO
    replaced = (
        _loans_of(fund.bank_id, fund.county_id)
        .filter(pk=application.related_loan_id)
        .values_list("outstanding", flat=True)
        .first()
    )
    return replaced or ZERO


def leverage_check(*, application: LoanApplication, amount: Decimal, on_date: datetime.date) -> None:
    """Registered with loans.disbursement_checks (apps.py), run inside the disbursement's
    transaction. Locks the fund's row, then refuses the disbursement when the bank's outstanding
    in the county plus what this loan adds would pass balance × the multiple of the profile in
    force on the disbursement date. A first or additional loan adds its full amount; a renewal adds
    only what it lends beyond the outstanding of the loan it replaces, and is refused like any
    other while the bank is past the cap. No fund for the county at the bank: refused."""
    county = county_of(application.household.village)
    bank_id = application.branch.parent_id
    # The row lock makes concurrent disbursements against one fund take turns: under READ
    # COMMITTED the sums below are read after the lock is granted, so the second sees the first.
    fund = (
        RiskFund.objects.select_for_update(of=("self",))
        .select_related("county", "bank")
        .filter(county=county, bank_id=bank_id)
        .first()
    )
    if fund is None:
        message = _(
            "No risk-compensation fund is recorded for %(county)s at this bank: without one the bank may "
            "not lend (%(source)s). Finance staff record the fund and its deposit first."
        ) % {"county": county.name, "source": LEVERAGE_SOURCE}
        raise rule_failed("leverage_cap", message, LEVERAGE_SOURCE, extra={"fund": None})
    room = headroom(fund, on_date=on_date)
    replaced = _replaced_outstanding(application, fund)
    asked = amount - replaced
    # The bank lends strictly within the cap (P1 art.38): a renewal that adds nothing is refused
    # too while the outstanding is already past it (the fund shrank after the loans were made);
    # the county tops the fund up, or the bank collects, before it renews.
    if room.multiple is not None and room.outstanding + asked <= room.cap:
        return
    figures = {
        "balance": f"{room.balance:,.2f}",
        "multiple": f"{(room.multiple or ZERO).normalize():f}",
        "cap": f"{room.cap:,.2f}",
        "outstanding": f"{room.outstanding:,.2f}",
        "headroom": f"{max(room.headroom, ZERO):,.2f}",
        "amount": f"{asked:,.2f}",
        "source": LEVERAGE_SOURCE,
    }
    if replaced:
        message = _(
            "The leverage cap would be passed: the fund holds %(balance)s yuan × %(multiple)s = %(cap)s "
            "yuan of lending; the bank's outstanding in the county is %(outstanding)s yuan, leaving "
            "%(headroom)s yuan; this renewal asks for %(amount)s yuan more than the loan it replaces "
            "(%(new)s yuan less %(replaced)s yuan outstanding) (%(source)s)."
        ) % {**figures, "new": f"{amount:,.2f}", "replaced": f"{replaced:,.2f}"}
    else:
        message = (
            _(
                "The leverage cap would be passed: the fund holds %(balance)s yuan × %(multiple)s = %(cap)s "
                "yuan of lending; the bank's outstanding in the county is %(outstanding)s yuan, leaving "
                "%(headroom)s yuan; this loan asks for %(amount)s yuan (%(source)s)."
            )
            % figures
        )
    raise rule_failed(
        "leverage_cap",
        message,
        LEVERAGE_SOURCE,
        extra={
            "fund": fund.pk,
            "balance": str(room.balance),
            "multiple": str(room.multiple),
            "cap": str(room.cap),
            "outstanding": str(room.outstanding),
            "headroom": str(room.headroom),
            "amount": str(asked),
        },
    )
