"""Writes of the loss claim (DOMAIN §8; P1 arts. 20-21, 39-40): the bank files it once its
trigger has come, the county office reviews it, the fund committee decides it, finance pays the
fund's share. Every step locks the claim, takes its transition through core/fsm.py and writes a
ClaimHistory row and an audit record in the same transaction; the payment posts the ledger
transaction and moves the loan to compensated through its own state machine."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from loans import lifecycle
from loans.models import Loan
from policies.models import PolicyProfile
from policies.selectors import profile_for

from .. import claim_rules
from ..exceptions import LOSS_SOURCE, TRIGGER_SOURCE
from ..models import Account, ClaimHistory, CompensationClaim, LedgerTransaction
from ..workflow import STEP_LABELS, State
from . import ledger

Trigger = CompensationClaim.Trigger
FOUR_EYES_SOURCE = "P1 art.39; DOMAIN §8"
# One claim in flight or paid per loan (the model's claim_one_live_per_loan).
LIVE_STATES = (State.FILED, State.REVIEWED, State.APPROVED, State.PAID)


def _today() -> datetime.date:
    return timezone.localdate()


def is_filing_officer(user, loan: Loan) -> bool:
    """A loan officer of the loan's branch or of the bank above it files its claims."""
    return (
        getattr(user, "is_authenticated", False)
        and user.has_role(Role.LOAN_OFFICER)
        and user.unit_id in (loan.branch_id, loan.branch.parent_id)
    )


class ClaimNotAllowed(ConflictError):
    def __init__(self, claim: CompensationClaim, name: str):
        super().__init__(
            _(
                "This step (%(step)s) cannot be taken while the claim is “%(state)s”; it may have "
                "changed meanwhile."
            )
            % {"step": STEP_LABELS.get(name, name), "state": claim.get_state_display()},
            "transition_not_allowed",
            {"state": claim.state, "transition": name},
        )


def _four_eyes(message) -> NotPermitted:
    return NotPermitted(
        message,
        "four_eyes",
        {"rules": [{"rule": "four_eyes", "message": str(message), "source": FOUR_EYES_SOURCE}]},
    )


def _denied(claim: CompensationClaim, name: str, user) -> NotPermitted:
    county = claim.fund.county_id
    decides = name == "approve" or (name == "reject" and claim.state == State.REVIEWED)
    if decides and user.has_role(Role.FUND_COMMITTEE) and user.unit_id == county:
        if user.pk == claim.filed_by_id:
            return _four_eyes(_("Four-eyes rule: you filed this claim, so other members decide it."))
        return _four_eyes(_("Four-eyes rule: you reviewed this claim, so other members decide it."))
    if name == "pay" and user.has_role(Role.FINANCE) and user.unit_id == county:
        if user.pk == claim.decided_by_id:
            return _four_eyes(_("Four-eyes rule: you recorded the decision, so someone else pays it."))
        return _four_eyes(_("Four-eyes rule: you filed this claim, so someone else pays it."))
    messages = {
        "review": _("Only the county poverty-alleviation office of the fund's county reviews claims."),
        "approve": _("Only the fund committee of the fund's county decides claims."),
        "reject": _(
            "Only the county office (at review) or the fund committee (at decision) of the fund's "
            "county rejects claims."
        ),
        "withdraw": _("Only a loan officer of the bank that filed the claim withdraws it."),
        "pay": _("Only finance staff of the fund's county pay claims."),
    }
    return NotPermitted(messages.get(name, _("You may not take this step.")))


def _lock(claim: CompensationClaim) -> CompensationClaim:
    return fsm.lock(claim, related=("fund", "loan__branch"))


def _take(claim: CompensationClaim, name: str, user, *, comment: str = "", data: dict | None = None) -> None:
    def record(claim: CompensationClaim, name: str, from_state: str, by) -> None:
        ClaimHistory.objects.create(
            claim=claim, transition=name, from_state=from_state, to_state=claim.state, by=by, comment=comment
        )
        audit(
            actor=by,
            action=f"compensation_claim.{name}",
            obj=claim,
            reason=comment,
            data={"from": from_state, "to": claim.state, **(data or {})},
        )

    fsm.take(claim, name, user, record=record, not_allowed=ClaimNotAllowed, denied=_denied)


def _guard(claim: CompensationClaim, name: str, user) -> None:
    fsm.guard(claim, name, user, not_allowed=ClaimNotAllowed, denied=_denied)


# ---- filing -------------------------------------------------------------------------------------


def _refuse_trigger(trigger: str, loan: Loan, when: datetime.date | None) -> ApplicationError:
    if when is None:
        message = _("This loan cannot be claimed as “%(trigger)s”.") % {
            "trigger": Trigger(trigger).label,
        }
        return rule_failed("claim_trigger", message, TRIGGER_SOURCE, field="trigger")
    message = _(
        "Too early: a claim as “%(trigger)s” on loan %(loan)s may be filed from %(date)s (%(source)s)."
    ) % {
        "trigger": Trigger(trigger).label,
        "loan": loan.contract_no,
        "date": when.isoformat(),
        "source": TRIGGER_SOURCE,
    }
    return rule_failed(
        "claim_trigger", message, TRIGGER_SOURCE, field="trigger", extra={"eligible_on": when.isoformat()}
    )


def _insurance_first(loan: Loan, trigger: str, died_on: datetime.date | None, today: datetime.date) -> None:
    event_on = died_on if trigger == Trigger.DEATH and died_on else today
    policy = claim_rules.pending_insurance(loan, event_on)
    if policy is None:
        return
    message = _(
        "Insurance pays first: policy %(policy_no)s of %(insurer)s (%(kind)s, %(start)s to %(end)s) covers "
        "this loss and has no payout recorded yet. Record the insurer's payout on the loan, then file the "
        "claim for what remains (%(source)s)."
    ) % {
        "policy_no": policy.policy_no,
        "insurer": policy.insurer,
        "kind": policy.get_kind_display(),
        "start": policy.starts_on.isoformat(),
        "end": policy.ends_on.isoformat(),
        "source": LOSS_SOURCE,
    }
    raise rule_failed("insurance_first", message, LOSS_SOURCE, extra={"policy": policy.pk})


def claim_file(*, acting_user, loan: Loan, trigger: str, statement: str) -> CompensationClaim:
    """File a loss claim on an open loan of the officer's branch or bank, once the trigger's
    waiting period from the profile in force today has passed, and insurance has paid."""
    if not is_filing_officer(acting_user, loan):
        raise NotPermitted(_("Only a loan officer of the loan's branch or bank files its loss claim."))
    if trigger not in Trigger.values:
        raise ApplicationError(_("Choose the trigger of the claim."), "invalid", field="trigger")
    statement = fsm.require_reason(statement, "statement")
    today = _today()
    with transaction.atomic():
        loan = fsm.lock(loan, related=("branch", "household__village__parent"))
        if loan.state not in Loan.OPEN_STATES:
            message = _(
                "Only an open loan (active, overdue or extended) can be claimed; this one is %(state)s."
            ) % {"state": loan.get_state_display()}
            raise rule_failed("loan_open", message, TRIGGER_SOURCE)
        if CompensationClaim.objects.filter(loan=loan, state__in=LIVE_STATES).exists():
            raise ConflictError(_("The loan already has a claim in progress or paid."), "claim_exists")
        fund = claim_rules.fund_for(loan)
        if fund is None:
            raise rule_failed(
                "fund_missing",
                _("No risk-compensation fund is recorded for the loan's county at this bank."),
                TRIGGER_SOURCE,
            )
        profile: PolicyProfile = profile_for(county=fund.county, on_date=today)
        died_on = claim_rules.death_on(loan)
        when = claim_rules.eligible_on(loan, trigger, profile, died_on=died_on)
        if when is None or today < when:
            raise _refuse_trigger(trigger, loan, when)
        _insurance_first(loan, trigger, died_on, today)
        figures = claim_rules.loss_for(loan, profile)
        if figures.loss <= 0:
            raise rule_failed(
                "claim_loss",
                _("Nothing is left to compensate: insurance and repayments covered the loan."),
                LOSS_SOURCE,
            )
        fund_share, bank_share = figures.shares
        try:
            with transaction.atomic():
                claim = CompensationClaim.objects.create(
                    fund=fund,
                    loan=loan,
                    trigger=trigger,
                    eligible_on=when,
                    profile=profile,
                    principal=figures.principal,
                    interest=figures.interest,
                    insurance_paid=figures.insurance_paid,
                    loss=figures.loss,
                    fund_ratio=figures.fund_ratio,
                    remainder_to=figures.remainder_to,
                    fund_share=fund_share,
                    bank_share=bank_share,
                    statement=statement,
                    filed_by=acting_user,
                )
        except IntegrityError:
            # Only the one-live-claim constraint is a refusal (another request filed first and
            # committed); any other broken constraint is a bug and must surface as one.
            if not CompensationClaim.objects.filter(loan=loan, state__in=LIVE_STATES).exists():
                raise
            raise ConflictError(
                _("The loan already has a claim in progress or paid."), "claim_exists"
            ) from None
        ClaimHistory.objects.create(
            claim=claim,
            transition="file",
            from_state="",
            to_state=claim.state,
            by=acting_user,
            comment=statement,
        )
        audit(
            actor=acting_user,
            action="compensation_claim.file",
            obj=claim,
            reason=statement,
            data={
                "loan": loan.pk,
                "trigger": trigger,
                "eligible_on": when.isoformat(),
                "loss": str(claim.loss),
                "fund_share": str(fund_share),
                "bank_share": str(bank_share),
            },
        )
    return claim


# ---- steps --------------------------------------------------------------------------------------


def claim_review(*, acting_user, claim: CompensationClaim, comment: str = "") -> CompensationClaim:
    with transaction.atomic():
        claim = _lock(claim)
        _guard(claim, "review", acting_user)
        claim.reviewed_by = acting_user
        claim.reviewed_at = timezone.now()
        _take(claim, "review", acting_user, comment=(comment or "").strip())
    return claim


def claim_approve(
    *, acting_user, claim: CompensationClaim, committee_members: str, decision_no: str = "", comment: str = ""
) -> CompensationClaim:
    """The fund committee's decision (P1 art.39), naming the members who decided. Four-eyes: not
    whoever filed or reviewed the claim."""
    with transaction.atomic():
        claim = _lock(claim)
        _guard(claim, "approve", acting_user)
        members = fsm.require_reason(committee_members, "committee_members")
        claim.decided_by = acting_user
        claim.decided_at = timezone.now()
        claim.committee_members = members
        claim.decision_no = (decision_no or "").strip()
        _take(
            claim,
            "approve",
            acting_user,
            comment=(comment or "").strip(),
            data={
                "committee_members": members,
                "decision_no": claim.decision_no,
                "fund_share": str(claim.fund_share),
            },
        )
    return claim


def claim_reject(
    *, acting_user, claim: CompensationClaim, reason: str, committee_members: str = ""
) -> CompensationClaim:
    """The county office at review, or the committee at decision (naming the members when it does)."""
    with transaction.atomic():
        claim = _lock(claim)
        _guard(claim, "reject", acting_user)
        reason = fsm.require_reason(reason, "reason")
        if claim.state == State.REVIEWED:
            claim.decided_by = acting_user
            claim.decided_at = timezone.now()
            claim.committee_members = (committee_members or "").strip()
        _take(claim, "reject", acting_user, comment=reason)
    return claim


def claim_withdraw(*, acting_user, claim: CompensationClaim, reason: str) -> CompensationClaim:
    with transaction.atomic():
        claim = _lock(claim)
        _guard(claim, "withdraw", acting_user)
        reason = fsm.require_reason(reason, "reason")
        _take(claim, "withdraw", acting_user, comment=reason)
    return claim


def claim_pay(
    *, acting_user, claim: CompensationClaim, paid_on: datetime.date | None = None, comment: str = ""
) -> CompensationClaim:
    """Pay the fund's share to the bank: one ledger transaction (FUND −share, COMPENSATION
    +share) under the fund's row lock — the ledger refuses to take the account below zero — and
    the loan moves to compensated through its state machine. Four-eyes: not whoever decided or
    filed the claim."""
    paid_on = paid_on or _today()
    comment = (comment or "").strip()
    with transaction.atomic():
        claim = _lock(claim)
        _guard(claim, "pay", acting_user)
        if paid_on > _today():
            raise ApplicationError(_("The payment date cannot be in the future."), "invalid", field="paid_on")
        fund = ledger.fund_lock(claim.fund)
        memo = _("Compensation of claim #%(no)d on loan %(loan)s") % {
            "no": claim.pk,
            "loan": claim.loan.contract_no,
        }
        ledger.post(
            acting_user=acting_user,
            fund=fund,
            kind=LedgerTransaction.Kind.COMPENSATION,
            booked_on=paid_on,
            memo=memo,
            legs=[(Account.FUND, -claim.fund_share), (Account.COMPENSATION, claim.fund_share)],
            claim=claim,
        )
        claim.paid_by = acting_user
        claim.paid_on = paid_on
        _take(
            claim,
            "pay",
            acting_user,
            comment=comment,
            data={"paid_on": paid_on.isoformat(), "fund_share": str(claim.fund_share)},
        )
        loan = fsm.lock(claim.loan, related=("branch", "household__village__parent"))
        lifecycle.take(loan, "compensate", acting_user, memo)
        loan.save()
        audit(
            actor=acting_user,
            action="loan.compensate",
            obj=loan,
            reason=memo,
            data={"claim": claim.pk, "fund_share": str(claim.fund_share)},
        )
    return claim
