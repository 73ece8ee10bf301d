"""The fund's ledger (DOMAIN §8; P1 art.37): every movement of the co-managed account is one
transaction of legs that sum to zero, and the balance is the sum of the FUND legs. Nothing here
updates or deletes an entry — the database refuses that anyway; a mistake is undone by a reversing
transaction with its reason.

Every transaction that takes money out locks the fund's row first, so two payouts at once take
turns and the second sees the first: the account never goes below zero (a deferred trigger checks
the same at commit, as a backstop)."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted, rule_failed

from ..exceptions import SPECIAL_ACCOUNT_SOURCE
from ..models import ZERO, Account, LedgerEntry, LedgerTransaction, RiskFund

FEN = Decimal("0.01")
Kind = LedgerTransaction.Kind


def is_fund_finance(user, fund: RiskFund) -> bool:
    """Finance staff of the fund's county keep its ledger (deposits, interest, withdrawals, payouts)."""
    return user.has_role(Role.FINANCE) and user.unit_id == fund.county_id


def balance(fund: RiskFund, *, on_date: datetime.date | None = None) -> Decimal:
    """The co-managed account's balance: the sum of its FUND legs (booked on or before `on_date`)."""
    entries = LedgerEntry.objects.filter(fund=fund, account=Account.FUND)
    if on_date is not None:
        entries = entries.filter(transaction__booked_on__lte=on_date)
    # To the fen: SQLite (`make run`) returns a sum of decimals with float digits past it.
    return (entries.aggregate(total=Sum("amount"))["total"] or ZERO).quantize(FEN)


def _lowest_balance_from(fund: RiskFund, booked_on: datetime.date) -> Decimal:
    """The lowest balance the account shows on `booked_on` or any day after it (today's balance
    included): what a movement booked on `booked_on` must not take below zero. Two queries."""
    running = lowest = balance(fund, on_date=booked_on)
    later = (
        LedgerEntry.objects.filter(fund=fund, account=Account.FUND, transaction__booked_on__gt=booked_on)
        .order_by()
        .values("transaction__booked_on")
        .annotate(total=Sum("amount"))
        .order_by("transaction__booked_on")
        .values_list("total", flat=True)
    )
    for total in later:
        running += total.quantize(FEN)
        lowest = min(lowest, running)
    return lowest


def fund_lock(fund: RiskFund) -> RiskFund:
    return fsm.lock(fund)


def amount_to_fen(value, field: str) -> Decimal:
    """An amount of money entered (a movement, a recovery): above zero and to the fen, else the
    field's error — never a crash on text, NaN or infinity."""
    try:
        amount = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(FEN, rounding=ROUND_HALF_UP):
        raise ApplicationError(_("Enter an amount above zero, to the fen."), "invalid", field=field)
    return amount


def _booked_on(value: datetime.date | None) -> datetime.date:
    booked_on = value or timezone.localdate()
    if booked_on > timezone.localdate():
        raise ApplicationError(_("The booking date cannot be in the future."), "invalid", field="booked_on")
    return booked_on


def post(
    *,
    acting_user,
    fund: RiskFund,
    kind: str,
    booked_on: datetime.date,
    memo: str,
    legs: list[tuple[str, Decimal]],
    reference: str = "",
    reverses: LedgerTransaction | None = None,
    claim=None,
    recovery=None,
) -> LedgerTransaction:
    """Write one balanced transaction. The caller holds the fund's row lock (`fund_lock`) and has
    checked the role; this checks the legs and that the account does not go below zero."""
    if not legs or sum(amount for _account, amount in legs) != 0 or any(amount == 0 for _a, amount in legs):
        raise ValueError(f"unbalanced or empty legs: {legs}")
    fund_delta = sum(amount for account, amount in legs if account == Account.FUND)
    if fund_delta < 0:
        current = balance(fund)
        lowest = _lowest_balance_from(fund, booked_on) if booked_on < timezone.localdate() else current
        if current + fund_delta >= 0 and lowest + fund_delta < 0:
            # Booked on an earlier day, the payout would leave that day (or one after it, before a
            # later deposit) below zero, though today's balance covers it.
            message = _(
                "From %(date)s on the fund held as little as %(balance)s yuan; %(amount)s yuan booked on "
                "%(date)s cannot be paid out of it. The co-managed account never goes below zero "
                "(%(source)s)."
            ) % {
                "date": booked_on.isoformat(),
                "balance": f"{lowest:,.2f}",
                "amount": f"{-fund_delta:,.2f}",
                "source": SPECIAL_ACCOUNT_SOURCE,
            }
            raise rule_failed(
                "fund_balance",
                message,
                SPECIAL_ACCOUNT_SOURCE,
                extra={
                    "balance": str(lowest),
                    "amount": str(-fund_delta),
                    "booked_on": booked_on.isoformat(),
                },
            )
        if current + fund_delta < 0:
            message = _(
                "The fund holds %(balance)s yuan; %(amount)s yuan cannot be paid out of it. The co-managed "
                "account never goes below zero (%(source)s)."
            ) % {
                "balance": f"{current:,.2f}",
                "amount": f"{-fund_delta:,.2f}",
                "source": SPECIAL_ACCOUNT_SOURCE,
            }
            raise rule_failed(
                "fund_balance",
                message,
                SPECIAL_ACCOUNT_SOURCE,
                extra={"balance": str(current), "amount": str(-fund_delta)},
            )
    txn = LedgerTransaction.objects.create(
        fund=fund,
        kind=kind,
        booked_on=booked_on,
        memo=memo,
        reference=reference,
        reverses=reverses,
        claim=claim,
        recovery=recovery,
        created_by=acting_user,
    )
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=txn, fund=fund, account=account, amount=amount) for account, amount in legs]
    )
    audit(
        actor=acting_user,
        action=f"riskfund.{kind}",
        obj=txn,
        reason=memo,
        data={
            "fund": fund.pk,
            "booked_on": booked_on.isoformat(),
            "legs": [[account, str(amount)] for account, amount in legs],
            **({"reverses": reverses.pk} if reverses else {}),
        },
    )
    return txn


def _require_finance(user, fund: RiskFund) -> None:
    if not is_fund_finance(user, fund):
        raise NotPermitted(_("Only finance staff of the fund's county keep its ledger."))


# The county's own movements: (kind, the account on the other side, the FUND leg's sign).
_COUNTY_MOVES = {
    Kind.DEPOSIT: (Account.COUNTY, 1),
    Kind.INTEREST: (Account.INTEREST, 1),
    Kind.WITHDRAWAL: (Account.COUNTY, -1),
}


@transaction.atomic
def movement_record(
    *,
    acting_user,
    fund: RiskFund,
    kind: str,
    amount,
    booked_on: datetime.date | None = None,
    memo: str,
    reference: str = "",
) -> LedgerTransaction:
    """A deposit or top-up by the county, interest the account earned, or a withdrawal back to the
    county: finance staff of the fund's county, with what the bank's slip says."""
    if kind not in _COUNTY_MOVES:
        raise ApplicationError(_("Unknown kind of movement."), "invalid", field="kind")
    _require_finance(acting_user, fund)
    amount = amount_to_fen(amount, "amount")
    memo = fsm.require_reason(memo, "memo")
    booked_on = _booked_on(booked_on)
    fund = fund_lock(fund)
    other, sign = _COUNTY_MOVES[kind]
    return post(
        acting_user=acting_user,
        fund=fund,
        kind=kind,
        booked_on=booked_on,
        memo=memo,
        reference=(reference or "").strip(),
        legs=[(Account.FUND, sign * amount), (other, -sign * amount)],
    )


@transaction.atomic
def transaction_reverse(*, acting_user, txn: LedgerTransaction, reason: str) -> LedgerTransaction:
    """Undo a transaction entered by mistake with one that negates each of its legs, booked today,
    with the reason. A transaction is reversed at most once, and a reversal is not reversed (enter
    the movement again instead). Reversing a deposit that was already spent is refused: the
    account would go below zero."""
    fund = fund_lock(txn.fund)
    _require_finance(acting_user, fund)
    reason = fsm.require_reason(reason, "reason")
    if txn.kind == Kind.REVERSAL:
        raise ApplicationError(
            _("A reversal cannot itself be reversed; enter the movement again."), "invalid"
        )
    if LedgerTransaction.objects.filter(reverses=txn).exists():
        raise ApplicationError(_("This transaction has already been reversed."), "already_reversed")
    if txn.claim_id is not None or txn.recovery_id is not None:
        raise ApplicationError(
            _(
                "A compensation payment or a recovery return belongs to its claim; it cannot be "
                "reversed here."
            ),
            "invalid",
        )
    legs = [(e.account, -e.amount) for e in txn.entries.all()]
    return post(
        acting_user=acting_user,
        fund=fund,
        kind=Kind.REVERSAL,
        booked_on=timezone.localdate(),
        memo=reason,
        legs=legs,
        reverses=txn,
    )
