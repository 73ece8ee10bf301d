"""The batch's steps as the pages and the API offer them: which service takes each one and what
it asks for. Both edges call the services through this table, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import services


@dataclass(frozen=True)
class Step:
    service: Callable
    # Input fields besides the batch and the acting user: "comment", "reason", "paid_on", "reference".
    fields: tuple[str, ...] = ()
    # Asks the user to confirm on the page (cancel, pay).
    confirm: bool = False


STEPS: dict[str, Step] = {
    "compute": Step(services.batch_compute),
    "resume": Step(services.batch_resume),
    "review": Step(services.batch_review, ("comment",)),
    "send_back": Step(services.batch_send_back, ("reason",)),
    "approve": Step(services.batch_approve, ("comment",)),
    "pay": Step(services.batch_pay, ("paid_on", "reference", "comment"), confirm=True),
    "cancel": Step(services.batch_cancel, ("reason",), confirm=True),
}


def available(batch, user) -> list[str]:
    """The steps this user may take on the batch now (state, role, county and four-eyes)."""
    names = {t.name for t in batch.get_available_user_state_transitions(user)}
    return [name for name in STEPS if name in names]


def take(name: str, *, batch, user, data: dict):
    step = STEPS[name]
    kwargs = {field: data[field] for field in step.fields if field in data}
    return step.service(acting_user=user, batch=batch, **kwargs)
