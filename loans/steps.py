"""The application's steps as the pages and the API offer them: the service that takes each one,
the input it asks for, and what the page says about it. Both edges take steps through this table,
so a step cannot be offered on one and missing or different on the other. The labels on buttons
stay with the state machine (`workflow.STEP_LABELS`), which also names the steps no one posts.
Like subsidies/steps.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .services import applications
from .workflow import State


@dataclass(frozen=True)
class Step:
    service: Callable
    # The input besides the application and the acting user, by kind: "comment" (optional),
    # "reason" (a comment that must be given), "accept", "approve", "disburse". Each edge maps the
    # kind to its form or serializer.
    takes: str = "comment"
    # The page's message once the step is done; a step without one has its own page (`form`).
    done: Promise | None = None
    # The reason box's label, so two refusals on one page do not look alike.
    reason_label: Promise | None = None
    # Shown as a red button: it refuses, withdraws or objects.
    danger: bool = False
    # The page (URL name) with the step's own form; None for a step posted from the application page.
    form: str | None = None

    @property
    def reason_required(self) -> bool:
        return self.takes == "reason"


STEPS: dict[str, Step] = {
    "submit": Step(
        applications.application_submit, done=_("The application was submitted for village review.")
    ),
    "send_back": Step(
        applications.application_send_back,
        "reason",
        done=_("The application was sent back to draft for changes."),
        reason_label=_("What must be changed"),
    ),
    "village_approve": Step(
        applications.application_village_approve,
        done=_("Village review passed; the publicity notices are up."),
    ),
    "village_reject": Step(
        applications.application_village_reject,
        "reason",
        done=_("The application was rejected."),
        reason_label=_("Reason for rejection"),
        danger=True,
    ),
    "withdraw": Step(
        applications.application_withdraw,
        "reason",
        done=_("The application was withdrawn."),
        reason_label=_("Reason for withdrawal"),
        danger=True,
    ),
    "accept": Step(applications.application_accept, "accept", form="loans:application_accept"),
    "decline": Step(
        applications.application_decline,
        "reason",
        done=_("The bank declined the application."),
        reason_label=_("Reason for declining"),
        danger=True,
    ),
    "approve": Step(applications.application_approve, "approve", form="loans:application_approve"),
    "reject": Step(
        applications.application_reject,
        "reason",
        done=_("The application was rejected."),
        reason_label=_("Reason for rejection"),
        danger=True,
    ),
    "return_to_officer": Step(
        applications.application_return_to_officer,
        "reason",
        done=_("The application was returned to the loan officer."),
        reason_label=_("What the officer must add or correct"),
    ),
    "disburse": Step(applications.application_disburse, "disburse", form="loans:application_disburse"),
}
# An objection is not a step of its own in the state machine's sense for the API's generic body
# (it takes `text` and `objector` and is posted to the objections list too), but the page offers it
# among the steps with its own form. The daily task alone ends publicity: it is in neither table.
OBJECTION = Step(applications.objection_lodge, "objection", danger=True, form="loans:objection_create")


# Who acts next once the application is in a state (workflow.py's permissions): the success
# message and the progress bar say it, so nobody has to guess whose turn it is (issue 14).
NEXT_ACTOR = {
    State.DRAFT: _("the village cadre completes the draft and submits it for village review"),
    State.VILLAGE_REVIEW: _("the village cadre reviews it (pass and publicise, send back or reject)"),
    State.PUBLICITY: _("publicity runs; when it ends without objection the bank accepts it"),
    State.BANK_ACCEPTANCE: _("the loan officer of the branch accepts it and investigates"),
    State.BANK_APPROVAL: _("the approver reviews and approves it"),
    State.APPROVED: _("the loan officer signs the contract and disburses"),
    State.DISBURSED: _("the loan officer does the post-loan checks"),
    State.REJECTED: _("nobody: the application is closed"),
    State.WITHDRAWN: _("nobody: the application is closed"),
}


def next_actor(state: str):
    return NEXT_ACTOR.get(state, "")


def done_message(name: str, application) -> str:
    """The message once step `name` is done: what happened, and who acts next."""
    step = offered(name)
    done = step.done if step is not None and step.done else ""
    nxt = next_actor(application.state)
    if not nxt:
        return str(done)
    return _("%(done)s Next: %(next)s.") % {"done": done, "next": nxt}


def offered(name: str) -> Step | None:
    """The step as the pages offer it (the objection included), or None."""
    return OBJECTION if name == "object" else STEPS.get(name)


def take(name: str, *, application, user, data: dict):
    """Take step `name` with the validated input `data` (the edge's form or serializer checked its
    shape). Unknown names raise KeyError: the edges answer 404 before calling this."""
    return STEPS[name].service(acting_user=user, application=application, **data)
