"""The loss claim's state machine (DOMAIN §8; P1 arts. 39-40), in the house style of
loans/workflow.py and subsidies/workflow.py: transitions are pure — they check the state and the
role and set nothing but the state. Services call them through core.fsm inside a transaction, under
a row lock, and write the history row and the audit record.

    filed ─ review (county office) ─▶ reviewed ─ approve (fund committee) ─▶ approved ─ pay (finance) ─▶ paid
    filed, reviewed ─ reject (county office at review, the committee at decision) ─▶ rejected
    filed ─ withdraw (the bank that filed it) ─▶ withdrawn

Four-eyes where money moves: whoever filed or reviewed a claim does not decide it, and whoever
decided it does not pay it."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import transition

from accounts.models import Role


class State(models.TextChoices):
    FILED = "filed", _("Filed, awaiting county review")
    REVIEWED = "reviewed", _("Reviewed, awaiting the committee")
    APPROVED = "approved", _("Approved, awaiting payment")
    PAID = "paid", pgettext_lazy("compensation claim", "Paid")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATES = (State.FILED, State.REVIEWED, State.APPROVED)

STEP_LABELS = {
    "review": _("Mark as reviewed"),
    "approve": _("Approve the compensation"),
    "reject": _("Reject the claim"),
    "withdraw": _("Withdraw the claim"),
    "pay": _("Pay from the fund"),
}


def _county_id(claim) -> int:
    return claim.fund.county_id


def _county_office(claim, user) -> bool:
    return user.has_role(Role.COUNTY_OFFICE) and user.unit_id == _county_id(claim)


def _committee(claim, user) -> bool:
    # Four-eyes: the people who filed or reviewed the claim do not decide it.
    return (
        user.has_role(Role.FUND_COMMITTEE)
        and user.unit_id == _county_id(claim)
        and user.pk not in (claim.filed_by_id, claim.reviewed_by_id)
    )


def _rejecter(claim, user) -> bool:
    return _county_office(claim, user) if claim.state == State.FILED else _committee(claim, user)


def _filing_bank(claim, user) -> bool:
    """A loan officer of the loan's branch or of the bank above it."""
    loan = claim.loan
    return user.has_role(Role.LOAN_OFFICER) and user.unit_id in (loan.branch_id, loan.branch.parent_id)


def _payer(claim, user) -> bool:
    # Four-eyes: finance staff of the county who took no part in the decision pay it.
    return (
        user.has_role(Role.FINANCE)
        and user.unit_id == _county_id(claim)
        and user.pk not in (claim.decided_by_id, claim.filed_by_id)
    )


class ClaimWorkflow:
    """Mixed into CompensationClaim; `state` is its protected FSMField."""

    @transition(field="state", source=State.FILED, target=State.REVIEWED, permission=_county_office)
    def review(self):
        pass

    @transition(field="state", source=State.REVIEWED, target=State.APPROVED, permission=_committee)
    def approve(self):
        pass

    @transition(
        field="state", source=[State.FILED, State.REVIEWED], target=State.REJECTED, permission=_rejecter
    )
    def reject(self):
        pass

    @transition(field="state", source=State.FILED, target=State.WITHDRAWN, permission=_filing_bank)
    def withdraw(self):
        pass

    @transition(field="state", source=State.APPROVED, target=State.PAID, permission=_payer)
    def pay(self):
        pass
