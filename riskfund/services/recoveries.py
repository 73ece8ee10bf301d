"""Recoveries (DOMAIN §8; P1 art.40): after the fund compensated a loan, the bank keeps pursuing the
debt. Each recovery it records is split in the claim's ratio with the claim's remainder rule
(claim_rules.split: the fund's share rounded away from the side that takes the remainder fen),
applied to the running total so the fund's shares add up to its share of all recovered, and
the fund's share is due back in the co-managed account within the profile's working days, counted
on the working-day calendar from the day after the money came in (a year the calendar lacks is the
usual CalendarMissing, never a guess of Monday to Friday). Finance records the return, which posts
the ledger transaction; a return after the due day is late, and the lists show by how many days."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from policies.selectors import add_working_days

from ..claim_rules import split
from ..exceptions import RECOVERY_SOURCE
from ..models import ZERO, Account, CompensationClaim, LedgerTransaction, Recovery
from ..workflow import State
from . import ledger


def is_claim_bank_officer(user, claim: CompensationClaim) -> bool:
    """A loan officer at a branch of the claim's bank (the fund's co-operating bank)."""
    unit = user.unit
    return (
        user.has_role(Role.LOAN_OFFICER)
        and unit is not None
        and claim.fund.bank_id in (unit.pk, unit.parent_id)
    )


def recovered_total(claim: CompensationClaim) -> Decimal:
    return claim.recoveries.aggregate(total=Sum("amount"))["total"] or ZERO


def due_on_for(claim: CompensationClaim, received_on: datetime.date) -> datetime.date:
    """The day the fund's share is due back: the profile's count of working days after
    `received_on` (received on a Monday with 5 days and no holiday: due the next Monday)."""
    return add_working_days(
        received_on + datetime.timedelta(days=1), claim.profile.recovery_return_working_days
    )


@transaction.atomic
def recovery_record(
    *, acting_user, claim: CompensationClaim, amount, received_on: datetime.date, note: str = ""
) -> Recovery:
    """Record money the bank recovered on a compensated loan: a loan officer of the claim's bank,
    on a paid claim, received no later than today and not before the compensation was paid; all
    the recoveries of a claim together never exceed its loss. Nothing is written when the due day
    cannot be counted (the calendar lacks a year)."""
    claim = fsm.lock(claim, related=("fund", "profile", "loan"))
    if not is_claim_bank_officer(acting_user, claim):
        raise NotPermitted(_("Only a loan officer of the claim's bank records its recoveries."))
    if claim.state != State.PAID:
        raise ConflictError(_("Recoveries are recorded only on a claim the fund has paid."), "claim_not_paid")
    amount = ledger.amount_to_fen(amount, "amount")
    today = timezone.localdate()
    if received_on > today:
        raise ApplicationError(_("The day received cannot be in the future."), "invalid", field="received_on")
    if claim.paid_on and received_on < claim.paid_on:
        raise ApplicationError(
            _("The compensation was paid on %(date)s; a recovery comes after it.") % {"date": claim.paid_on},
            "invalid",
            field="received_on",
        )
    already = recovered_total(claim)
    if already + amount > claim.loss:
        left = claim.loss - already
        raise rule_failed(
            "recovery_within_loss",
            _(
                "The loss compensated was %(loss)s yuan and %(already)s yuan has been recovered already; "
                "at most %(left)s yuan more can be recorded, not %(amount)s (%(source)s)."
            )
            % {
                "loss": f"{claim.loss:,.2f}",
                "already": f"{already:,.2f}",
                "left": f"{left:,.2f}",
                "amount": f"{amount:,.2f}",
                "source": RECOVERY_SOURCE,
            },
            RECOVERY_SOURCE,
            field="amount",
            extra={"loss": str(claim.loss), "recovered": str(already), "left": str(left)},
        )
    due_on = due_on_for(claim, received_on)
    # Split the running total, not each recovery alone: the fund's shares of a claim's recoveries
    # then always add up to its share of all recovered so far (a hundred recoveries of 0.01 at
    # 0.8 return 0.80 to the fund, not a hundred shares of 0.00).
    fund_before = split(already, claim.fund_ratio, claim.remainder_to)[0]
    fund_share = split(already + amount, claim.fund_ratio, claim.remainder_to)[0] - fund_before
    bank_share = amount - fund_share
    recovery = Recovery.objects.create(
        claim=claim,
        amount=amount,
        received_on=received_on,
        fund_share=fund_share,
        bank_share=bank_share,
        due_on=due_on,
        note=(note or "").strip(),
        recorded_by=acting_user,
    )
    audit(
        actor=acting_user,
        action="riskfund.recovery_record",
        obj=recovery,
        reason=recovery.note,
        data={
            "claim": claim.pk,
            "amount": str(amount),
            "received_on": received_on.isoformat(),
            "fund_share": str(fund_share),
            "bank_share": str(bank_share),
            "due_on": due_on.isoformat(),
        },
    )
    return recovery


def is_return_recorder(user, recovery: Recovery) -> bool:
    """Finance staff of the fund's county keep its ledger, returns included."""
    return ledger.is_fund_finance(user, recovery.claim.fund)


def _post_return(acting_user, fund, recovery: Recovery, returned_on: datetime.date) -> None:
    ledger.post(
        acting_user=acting_user,
        fund=fund,
        kind=LedgerTransaction.Kind.RECOVERY,
        booked_on=returned_on,
        memo=_("Fund's share of recovery #%(no)d on claim #%(claim)d")
        % {"no": recovery.pk, "claim": recovery.claim_id},
        legs=[(Account.FUND, recovery.fund_share), (Account.RECOVERY, -recovery.fund_share)],
        recovery=recovery,
    )


@transaction.atomic
def recovery_return(*, acting_user, recovery: Recovery, returned_on: datetime.date) -> Recovery:
    """The fund's share came back into the co-managed account on `returned_on`: finance of the
    fund's county posts it (FUND +share, RECOVERY −share), once; after the due day it is late."""
    recovery = fsm.lock(recovery, related=("claim__fund",))
    fund = recovery.claim.fund
    if not is_return_recorder(acting_user, recovery):
        raise NotPermitted(_("Only finance staff of the fund's county record a recovery's return."))
    if recovery.returned_on is not None:
        raise ConflictError(
            _("The fund's share of this recovery was already returned on %(date)s.")
            % {"date": recovery.returned_on},
            "already_returned",
        )
    if returned_on > timezone.localdate():
        raise ApplicationError(_("The day returned cannot be in the future."), "invalid", field="returned_on")
    if returned_on < recovery.received_on:
        raise ApplicationError(
            _("The bank received the money on %(date)s; it cannot be returned before that.")
            % {"date": recovery.received_on},
            "invalid",
            field="returned_on",
        )
    fund = ledger.fund_lock(fund)
    if recovery.fund_share:  # a recovery of a fen or two can leave the fund no share to post
        _post_return(acting_user, fund, recovery, returned_on)
    recovery.returned_on = returned_on
    recovery.returned_by = acting_user
    recovery.save(update_fields=["returned_on", "returned_by"])
    late = (returned_on - recovery.due_on).days
    audit(
        actor=acting_user,
        action="riskfund.recovery_return",
        obj=recovery,
        data={
            "fund_share": str(recovery.fund_share),
            "due_on": recovery.due_on.isoformat(),
            "returned_on": returned_on.isoformat(),
            "days_late": max(late, 0),
        },
    )
    return recovery
