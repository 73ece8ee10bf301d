"""The subsidy batch state machine (DOMAIN §6). Transitions are pure: they check the state and
the role and set nothing but the state. Services call them inside a transaction, under a row
lock, and write the audit record."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import transition

from accounts.models import Role


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    COMPUTING = "computing", _("Computing")
    COMPUTED = "computed", _("Computed, awaiting review")
    REVIEWED = "reviewed", _("Reviewed, awaiting approval")
    APPROVED = "approved", _("Approved, awaiting payment")
    PAID = "paid", pgettext_lazy("subsidy batch", "Paid")
    CANCELLED = "cancelled", _("Cancelled")


STEP_LABELS = {
    "compute": _("Compute"),
    # On a computed batch the page calls it "Recompute" (views.py).
    "resume": _("Continue computing"),
    "review": _("Mark as reviewed"),
    "send_back": _("Send back for recomputation"),
    "approve": _("Approve"),
    "pay": _("Record payment"),
    "cancel": _("Cancel the batch"),
}


def is_county_finance(user, county_id) -> bool:
    """Finance staff of the county: they create, compute, review, approve and pay its batches and
    take its payment file."""
    return user.has_role(Role.FINANCE) and user.unit_id == county_id


def _finance(batch, user) -> bool:
    return is_county_finance(user, batch.county_id)


def _approver(batch, user) -> bool:
    # Four-eyes (DOMAIN §6): whoever computed or reviewed the batch never approves it, so a batch
    # the system computed still passes two people.
    return _finance(batch, user) and user.pk not in (batch.computed_by_id, batch.reviewed_by_id)


def _nobody(batch, user) -> bool:
    """Only the compute tasks finish a computation."""
    return False


class BatchWorkflow:
    """Mixed into SubsidyBatch; `state` is its protected FSMField."""

    @transition(
        field="state", source=[State.DRAFT, State.COMPUTED], target=State.COMPUTING, permission=_finance
    )
    def compute(self):
        pass

    @transition(field="state", source=State.COMPUTING, target=State.COMPUTING, permission=_finance)
    def resume(self):
        pass

    @transition(field="state", source=State.COMPUTING, target=State.COMPUTED, permission=_nobody)
    def finish(self):
        pass

    @transition(field="state", source=State.COMPUTED, target=State.REVIEWED, permission=_finance)
    def review(self):
        pass

    @transition(
        field="state", source=[State.REVIEWED, State.APPROVED], target=State.COMPUTED, permission=_finance
    )
    def send_back(self):
        pass

    @transition(field="state", source=State.REVIEWED, target=State.APPROVED, permission=_approver)
    def approve(self):
        pass

    @transition(field="state", source=State.APPROVED, target=State.PAID, permission=_finance)
    def pay(self):
        pass

    @transition(
        field="state",
        source=[State.DRAFT, State.COMPUTING, State.COMPUTED, State.REVIEWED, State.APPROVED],
        target=State.CANCELLED,
        permission=_finance,
    )
    def cancel(self):
        pass
