"""The application state machine (DOMAIN §4). Transitions are pure: they check the state and
the role, and set nothing but the state. Services call them inside a transaction, write the
history row and do the side effects (notices, the loan record)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from accounts.models import Role


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    VILLAGE_REVIEW = "village_review", _("Village review")
    PUBLICITY = "publicity", _("Under publicity")
    BANK_ACCEPTANCE = "bank_acceptance", _("Awaiting bank acceptance")
    BANK_APPROVAL = "bank_approval", _("Awaiting bank approval")
    APPROVED = "approved", _("Approved, awaiting disbursement")
    DISBURSED = "disbursed", _("Disbursed")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# What each transition is called on buttons and in the API's list of transitions.
STEP_LABELS = {
    "submit": _("Submit for village review"),
    "send_back": _("Send back for changes"),
    "village_approve": _("Pass village review and start publicity"),
    "village_reject": _("Reject at village review"),
    "withdraw": _("Withdraw the application"),
    "object": _("Record an objection"),
    "end_publicity": _("Publicity ended"),
    "accept": _("Accept and record the investigation"),
    "decline": _("Decline"),
    "approve": _("Review and approve"),
    "reject": _("Reject"),
    "return_to_officer": _("Return to the loan officer"),
    "disburse": _("Disburse"),
}

FINAL_STATES = (State.DISBURSED, State.REJECTED, State.WITHDRAWN)
# States in which an application is on its way to a loan: it counts against the household's cap
# and blocks a second application (one borrower per household).
IN_FLIGHT_STATES = (
    State.VILLAGE_REVIEW,
    State.PUBLICITY,
    State.BANK_ACCEPTANCE,
    State.BANK_APPROVAL,
    State.APPROVED,
)


def _village_cadre(app, user) -> bool:
    return user.has_role(Role.VILLAGE_CADRE) and user.unit_id == app.household.village_id


def _publicity_runner(app, user) -> bool:
    """The roles that run publicity at some level may record an objection (DOMAIN §1)."""
    village = app.household.village
    return (
        _village_cadre(app, user)
        or (user.has_role(Role.TOWNSHIP_OFFICER) and user.unit_id == village.parent_id)
        or (user.has_role(Role.COUNTY_OFFICE) and user.unit_id == village.parent.parent_id)
    )


def _branch_officer(app, user) -> bool:
    return user.has_role(Role.LOAN_OFFICER) and app.branch_id is not None and user.unit_id == app.branch_id


def _approver(app, user) -> bool:
    if not user.has_role(Role.APPROVER) or app.branch_id is None:
        return False
    in_bank = user.unit_id in (app.branch_id, app.branch.parent_id)
    # Four-eyes (DOMAIN §4.5): the investigating officer never approves their own case.
    return in_bank and user.pk != app.investigated_by_id


def _nobody(app, user) -> bool:
    """Only the daily publicity task takes this transition."""
    return False


class ApplicationWorkflow:
    """Mixed into LoanApplication; `state` is its protected FSMField."""

    @transition(field="state", source=State.DRAFT, target=State.VILLAGE_REVIEW, permission=_village_cadre)
    def submit(self):
        pass

    @transition(field="state", source=State.VILLAGE_REVIEW, target=State.DRAFT, permission=_village_cadre)
    def send_back(self):
        pass

    @transition(field="state", source=State.VILLAGE_REVIEW, target=State.PUBLICITY, permission=_village_cadre)
    def village_approve(self):
        pass

    @transition(field="state", source=State.VILLAGE_REVIEW, target=State.REJECTED, permission=_village_cadre)
    def village_reject(self):
        pass

    @transition(
        field="state",
        source=[State.DRAFT, State.VILLAGE_REVIEW, State.PUBLICITY, State.BANK_ACCEPTANCE],
        target=State.WITHDRAWN,
        permission=_village_cadre,
    )
    def withdraw(self):
        pass

    @transition(
        field="state", source=State.PUBLICITY, target=State.VILLAGE_REVIEW, permission=_publicity_runner
    )
    def object(self):
        pass

    @transition(field="state", source=State.PUBLICITY, target=State.BANK_ACCEPTANCE, permission=_nobody)
    def end_publicity(self):
        pass

    @transition(
        field="state", source=State.BANK_ACCEPTANCE, target=State.BANK_APPROVAL, permission=_branch_officer
    )
    def accept(self):
        pass

    @transition(
        field="state", source=State.BANK_ACCEPTANCE, target=State.REJECTED, permission=_branch_officer
    )
    def decline(self):
        pass

    @transition(field="state", source=State.BANK_APPROVAL, target=State.APPROVED, permission=_approver)
    def approve(self):
        pass

    @transition(field="state", source=State.BANK_APPROVAL, target=State.REJECTED, permission=_approver)
    def reject(self):
        pass

    @transition(field="state", source=State.BANK_APPROVAL, target=State.BANK_ACCEPTANCE, permission=_approver)
    def return_to_officer(self):
        pass

    @transition(field="state", source=State.APPROVED, target=State.DISBURSED, permission=_branch_officer)
    def disburse(self):
        pass
