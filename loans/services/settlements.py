"""Interest settlements (结息, DOMAIN §5): the periods and the interest check every settlement
passes, and the settlements entered, corrected or confirmed by hand. The bank's list of them is
read by settlement_list.py.

Periods (DOMAIN §5, §6). The system keeps a period as [start, end): the end day is not counted
(算头不算尾, loans/interest.py). A bank's list counts the end day or not, and whoever uploads it
says which (`end_date_counted`); an inclusive end (算头算尾) is stored as the next day. A loan's
periods never overlap, so no day of interest is settled, or subsidized, twice: a new period that
overlaps a recorded one (other than the very same period) is refused, checked under the loan's
row lock and, on PostgreSQL, by an exclusion constraint as well. A settlement whose interest due
is not principal × rate × days ÷ 360 is flagged `needs_review` and waits for a loan officer to
confirm it (settlement_confirm) before it is subsidized."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError

from ..interest import interest_for, period_days
from ..models import Loan, Settlement
from ..permissions import require_loan_in_scope, require_servicer

# The bank's system and ours may round a period's interest differently by a fen: a payment up
# to one fen above the interest due is accepted as paid in full, anything more is an error.
PAID_TOLERANCE = Decimal("0.01")
# How far a settlement's interest due may be from principal × rate × days ÷ 360 before a person
# must look at it. Banks accrue day by day and round each day, or round once, so their figure and
# ours can differ by a few fen over a quarter; a wrong day count, rate or principal moves it by
# yuan (one day of 50,000 at 4.35 % is 6.04). 0.05 lets the first through and catches the second.
INTEREST_TOLERANCE = Decimal("0.05")
# The database constraints that refuse a second settlement on a day already settled: the service
# checks first, under the loan's lock; these turn a write that bypassed it into a clean 409.
OVERLAP_CONSTRAINTS = ("settlement_periods_no_overlap", "settlement_one_per_period")
# The figures of a settlement: what an import compares with the recorded one, what a correction
# may change.
COMPARED = ("principal", "rate", "interest_due", "interest_paid", "penalty_paid", "paid_on")
AMOUNTS = ("principal", "interest_due", "interest_paid", "penalty_paid")


# ---------------------------------------------------------------------------------------------
# Periods and the interest check


def period_text(start: datetime.date, end: datetime.date) -> str:
    """A stored period as people read it, saying that the end day is not counted."""
    return _("%(start)s to %(end)s (end date not counted)") % {
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def expected_interest(*, principal: Decimal, rate: Decimal, days: int) -> Decimal:
    """What the contract's formula gives: principal × rate% × days ÷ 360 (loans/interest.py)."""
    return interest_for(principal, rate, days)


def interest_needs_review(values: dict) -> bool:
    """True when the interest due is more than INTEREST_TOLERANCE away from the formula's."""
    expected = expected_interest(
        principal=values["principal"],
        rate=values["rate"],
        days=period_days(values["period_start"], values["period_end"]),
    )
    return abs(values["interest_due"] - expected) > INTEREST_TOLERANCE


@contextmanager
def _overlap_refused() -> Iterator[None]:
    """A write refused by the database's overlap or one-per-period constraint answers 409
    `period_overlap`, never a 500. It can only happen when something wrote without the loan's
    lock; the transaction is rolled back by the caller's atomic block."""
    try:
        yield
    except IntegrityError as e:
        if not any(name in str(e) for name in OVERLAP_CONSTRAINTS):
            raise
        raise ConflictError(
            _(
                "Another settlement of this loan was recorded for an overlapping period meanwhile; "
                "nothing was saved. Check again and retry."
            ),
            "period_overlap",
        ) from e


# ---------------------------------------------------------------------------------------------
# Settlements by hand


def _settlement_values(values: dict) -> None:
    for key in AMOUNTS:
        if values.get(key) is not None and values[key] < 0:
            raise ApplicationError(_("The amount cannot be negative."), "invalid", field=key)
    if values.get("rate") is not None and values["rate"] < 0:
        raise ApplicationError(_("The rate cannot be negative."), "invalid", field="rate")
    if values["period_end"] < values["period_start"]:
        raise ApplicationError(_("The period ends before it starts."), "period_order", field="period_end")
    if values["period_end"] == values["period_start"]:
        raise ApplicationError(
            _("The period has no day of interest: the end date is not counted, and it is the start date."),
            "period_empty",
            field="period_end",
        )
    if values["interest_paid"] > values["interest_due"] + PAID_TOLERANCE:
        raise ApplicationError(
            _("The interest paid is more than the interest due."), "overpaid", field="interest_paid"
        )
    if values["paid_on"] is None and (values["interest_paid"] or values["penalty_paid"]):
        raise ApplicationError(
            _("An amount was paid but the payment date is empty."), "paid_on_missing", field="paid_on"
        )
    if values["paid_on"] is not None and values["paid_on"] > timezone.localdate():
        raise ApplicationError(_("The payment date cannot be in the future."), "invalid", field="paid_on")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give the reason for entering this by hand."), "invalid", field="reason")
    return reason


@transaction.atomic
def settlement_record_manual(
    *,
    acting_user,
    loan: Loan,
    period_start: datetime.date,
    period_end: datetime.date,
    principal: Decimal,
    rate: Decimal,
    interest_due: Decimal,
    interest_paid: Decimal = Decimal("0"),
    penalty_paid: Decimal = Decimal("0"),
    paid_on: datetime.date | None = None,
    reason: str,
) -> Settlement:
    """A settlement period entered by hand (the list is missing or wrong), with the reason. The
    period is [period_start, period_end): the end date is not counted (算头不算尾). A period that
    overlaps another settlement of the loan is refused; one whose interest differs from the
    formula is stored `needs_review`."""
    require_servicer(acting_user)
    reason = _require_reason(reason)
    loan = fsm.lock(loan)
    require_loan_in_scope(acting_user, loan)
    values = dict(
        period_start=period_start,
        period_end=period_end,
        principal=principal,
        rate=rate,
        interest_due=interest_due,
        interest_paid=interest_paid,
        penalty_paid=penalty_paid,
        paid_on=paid_on,
    )
    _settlement_values(values)
    if Settlement.objects.filter(loan=loan, period_start=period_start, period_end=period_end).exists():
        raise ConflictError(
            _("This period is already recorded; correct the recorded settlement instead."), "duplicate_period"
        )
    # The loan's row lock above makes this check and the insert one step for every writer.
    clash = (
        Settlement.objects.filter(loan=loan, period_start__lt=period_end, period_end__gt=period_start)
        .order_by("period_start")
        .first()
    )
    if clash is not None:
        raise ConflictError(
            _(
                "The period %(period)s overlaps the settlement already recorded for %(existing)s. "
                "A day of interest is settled only once; correct the recorded settlement instead."
            )
            % {
                "period": period_text(period_start, period_end),
                "existing": period_text(clash.period_start, clash.period_end),
            },
            "period_overlap",
            {"settlement": clash.pk},
            field="period_start",
        )
    settlement = Settlement(
        loan=loan,
        source=Settlement.Source.MANUAL,
        reason=reason,
        recorded_by=acting_user,
        needs_review=interest_needs_review(values),
        **values,
    )
    settlement.full_clean()
    with _overlap_refused():
        settlement.save()
    audit(
        actor=acting_user,
        action="settlement.manual",
        obj=settlement,
        reason=reason,
        data={
            **{k: str(v) if v is not None else None for k, v in values.items()},
            "needs_review": settlement.needs_review,
        },
    )
    return settlement


@transaction.atomic
def settlement_correct(*, acting_user, settlement: Settlement, reason: str, **changes) -> Settlement:
    """Correct a recorded settlement's figures (not its period). The audit keeps old and new.
    A change to the principal, the rate or the interest due runs the interest check again: the
    flag follows the new figures, and an earlier confirmation, given for other figures, is void."""
    require_servicer(acting_user)
    reason = _require_reason(reason)
    allowed = {"principal", "rate", "interest_due", "interest_paid", "penalty_paid", "paid_on"}
    unknown = set(changes) - allowed
    if unknown:
        raise ApplicationError(
            _("Only the amounts, the rate and the payment date can be corrected."), "invalid"
        )
    settlement = Settlement.objects.select_for_update().select_related("loan").get(pk=settlement.pk)
    require_loan_in_scope(acting_user, settlement.loan)
    old = {k: getattr(settlement, k) for k in COMPARED}
    values = {**old, **changes, "period_start": settlement.period_start, "period_end": settlement.period_end}
    _settlement_values(values)
    changed = {k: v for k, v in changes.items() if old[k] != v}
    if not changed:
        return settlement
    before = {k: old[k] for k in changed}
    after = dict(changed)
    if changed.keys() & {"principal", "rate", "interest_due"}:
        review = {
            "needs_review": interest_needs_review(values),
            "review_note": "",
            "reviewed_by": None,
            "reviewed_at": None,
        }
        for key, value in review.items():
            if getattr(settlement, key) != value:
                before[key] = getattr(settlement, key)
                after[key] = value
    for key, value in after.items():
        setattr(settlement, key, value)
    settlement.reason = reason
    settlement.full_clean()
    settlement.save()
    audit(
        actor=acting_user,
        action="settlement.correct",
        obj=settlement,
        reason=reason,
        data={"old": _audit_values(before), "new": _audit_values(after)},
    )
    return settlement


def _audit_values(values: dict) -> dict:
    def text(v):
        if v is None or isinstance(v, bool):
            return v
        if hasattr(v, "pk"):
            return v.pk
        if isinstance(v, datetime.datetime):
            return v.isoformat()
        return str(v)

    return {k: text(v) for k, v in values.items()}


@transaction.atomic
def settlement_confirm(*, acting_user, settlement: Settlement, reason: str) -> Settlement:
    """A loan officer confirms the interest of a flagged settlement (`needs_review`), with the
    reason it may stand as the bank listed it: from then on it is subsidized like any other.
    Same roles and area as a correction; the audit keeps the review fields before and after."""
    require_servicer(acting_user)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give the reason the listed interest may stand."), "invalid", field="reason")
    settlement = Settlement.objects.select_for_update().select_related("loan").get(pk=settlement.pk)
    require_loan_in_scope(acting_user, settlement.loan)
    if not settlement.needs_review:
        raise ConflictError(_("This settlement's interest is not waiting for confirmation."), "not_flagged")
    fields = ("needs_review", "review_note", "reviewed_by", "reviewed_at")
    before = {k: getattr(settlement, k) for k in fields}
    settlement.needs_review = False
    settlement.review_note = reason
    settlement.reviewed_by = acting_user
    settlement.reviewed_at = timezone.now()
    settlement.full_clean()
    settlement.save(update_fields=list(fields))
    audit(
        actor=acting_user,
        action="settlement.confirm",
        obj=settlement,
        reason=reason,
        data={
            "old": _audit_values(before),
            "new": _audit_values({k: getattr(settlement, k) for k in fields}),
            "interest_due": str(settlement.interest_due),
            "expected_interest": str(settlement.expected_interest),
            "days": settlement.days,
        },
    )
    return settlement
