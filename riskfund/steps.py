"""The claim's steps as the pages and the API offer them: the service that takes each one and the
input it asks for. Both edges take steps through this table, so they cannot drift apart. The
labels on buttons stay with the state machine (`workflow.STEP_LABELS`). Like subsidies/steps.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .services import claims
from .workflow import State


@dataclass(frozen=True)
class Step:
    service: Callable
    # Input fields besides the claim and the acting user: "comment", "reason", "committee_members",
    # "decision_no", "paid_on".
    fields: tuple[str, ...] = ()
    # The page's message once the step is done.
    done: Promise | None = None
    # Asks the user to confirm on the page (pay).
    confirm: bool = False
    # Shown as a red button: it rejects or withdraws.
    danger: bool = False


STEPS: dict[str, Step] = {
    "review": Step(
        claims.claim_review, ("comment",), done=_("The claim was reviewed and goes to the committee.")
    ),
    "approve": Step(
        claims.claim_approve,
        ("committee_members", "decision_no", "comment"),
        done=_("The compensation was approved; finance pays it."),
    ),
    "reject": Step(
        claims.claim_reject, ("reason", "committee_members"), done=_("The claim was rejected."), danger=True
    ),
    "withdraw": Step(claims.claim_withdraw, ("reason",), done=_("The claim was withdrawn."), danger=True),
    "pay": Step(
        claims.claim_pay,
        ("paid_on", "comment"),
        done=_("The fund's share was paid and the loan is compensated."),
        confirm=True,
    ),
}


def available(claim, user) -> list[str]:
    """The steps this user may take on the claim now (state, role, county and four-eyes)."""
    names = {t.name for t in claim.get_available_user_state_transitions(user)}
    return [name for name in STEPS if name in names]


def fields_for(name: str, claim) -> tuple[str, ...]:
    """The inputs step `name` asks for on this claim: rejecting at the county's review names no
    committee members (only the committee's decision does, claims.claim_reject)."""
    fields = STEPS[name].fields
    if name == "reject" and claim.state == State.FILED:
        fields = tuple(f for f in fields if f != "committee_members")
    return fields


def take(name: str, *, claim, user, data: dict):
    """Take step `name` with the validated input `data`; unknown names raise KeyError (the edges
    answer 404 before calling this)."""
    step = STEPS[name]
    kwargs = {field: data[field] for field in step.fields if field in data}
    return step.service(acting_user=user, claim=claim, **kwargs)
