"""The fund's statement of a period (对账单): opening balance, what came in and went out by kind,
closing balance, and every transaction of the period with its legs. `statement()` computes the
figures once; the page, the XLSX and the PDF all show that one object, so they cannot disagree."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from .models import ZERO, Account, LedgerEntry, LedgerTransaction, RiskFund

Kind = LedgerTransaction.Kind


@dataclass
class Statement:
    fund: RiskFund
    start: datetime.date
    end: datetime.date
    opening: Decimal
    deposits: Decimal
    interest: Decimal
    payouts: Decimal
    recoveries: Decimal
    withdrawals: Decimal
    reversals: Decimal
    closing: Decimal
    transactions: list = field(default_factory=list)

    @property
    def lines(self) -> list[tuple[str, Decimal]]:
        """The summary as (label, amount) in the order every format prints it."""
        from django.utils.translation import gettext as _

        return [
            (_("Opening balance"), self.opening),
            (_("Deposits and top-ups by the county"), self.deposits),
            (_("Interest earned"), self.interest),
            (_("Compensation paid to the bank"), -self.payouts),
            (_("Recoveries returned by the bank"), self.recoveries),
            (_("Withdrawals by the county"), -self.withdrawals),
            (_("Reversals"), self.reversals),
            (_("Closing balance"), self.closing),
        ]


def statement(fund: RiskFund, *, start: datetime.date, end: datetime.date) -> Statement:
    """The figures of `fund` from `start` to `end` (both included, by booking date). Payouts and
    withdrawals are positive sums of what left the account; `reversals` is the net effect of the
    period's reversals on the account (negative when they took money out)."""
    fund_legs = LedgerEntry.objects.filter(fund=fund, account=Account.FUND)
    opening = fund_legs.filter(transaction__booked_on__lt=start).aggregate(t=Sum("amount"))["t"] or ZERO
    by_kind = dict(
        fund_legs.filter(transaction__booked_on__gte=start, transaction__booked_on__lte=end)
        .order_by()
        .values_list("transaction__kind")
        .annotate(total=Sum("amount"))
    )
    moved = {kind: by_kind.get(kind) or ZERO for kind in Kind.values}
    closing = opening + sum(moved.values(), ZERO)
    transactions = list(
        LedgerTransaction.objects.filter(fund=fund, booked_on__gte=start, booked_on__lte=end)
        .select_related("created_by", "reverses")
        .prefetch_related("entries")
        .order_by("booked_on", "id")
    )
    return Statement(
        fund=fund,
        start=start,
        end=end,
        opening=opening,
        deposits=moved[Kind.DEPOSIT],
        interest=moved[Kind.INTEREST],
        payouts=-moved[Kind.COMPENSATION],
        recoveries=moved[Kind.RECOVERY],
        withdrawals=-moved[Kind.WITHDRAWAL],
        reversals=moved[Kind.REVERSAL],
        closing=closing,
        transactions=transactions,
    )


def statement_xlsx(s: Statement) -> bytes:
    raise NotImplementedError


def statement_pdf(s: Statement) -> bytes:
    raise NotImplementedError
