"""Taking a step of a django-fsm-2 state machine, the same way in every app (loans' applications
and loans, subsidy batches): lock the row, refuse the wrong state or role, take the transition,
save, and write the app's own history and audit rows, all inside the caller's transaction.

The machines themselves stay in their apps (loans/workflow.py, loans/lifecycle.py,
subsidies/workflow.py): pure transitions with their `permission=` rule. What each app says when it
refuses a step, and what it records once the step is taken, is the app's; it passes them in, so
its messages, codes, history rows and audit rows are its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from .exceptions import ApplicationError

M = TypeVar("M", bound=models.Model)

# Build the refusal of a step from the wrong state: (object, transition name) → exception.
NotAllowed = Callable[[models.Model, str], Exception]
# Build the refusal of a step to the wrong person: (object, transition name, user) → exception.
Denied = Callable[[models.Model, str, object], Exception]
# Write the step's history and audit rows: (object, transition name, old state, by) where `by` is
# None for a step the system takes.
Record = Callable[[models.Model, str, str, object], None]


def fsm_not_allowed(obj: models.Model, name: str) -> Exception:
    """django-fsm's own refusal, worded as the transition method words it (core/api.py answers it
    409 `transition_not_allowed`)."""
    return TransitionNotAllowed(
        f"Can't switch from state '{obj.state}' using method '{name}'", object=obj, method=getattr(obj, name)
    )


def permission_denied(obj: models.Model, name: str, user) -> Exception:
    """Django's refusal (403 `permission_denied` in the API)."""
    return PermissionDenied()


def lock(instance: M, *, related: Iterable[str] = (), no_key: bool = False) -> M:
    """Re-read `instance` under a row lock, with `related` joined in. A second request for the
    same row waits here until the first commits, then sees the new state and is refused (409).

    Only the row itself is locked (`of=("self",)`): the joined rows (household, branch...) are
    read, not locked, so steps on different objects of one household never wait for each other.
    `no_key` takes FOR NO KEY UPDATE, which does not conflict with FOR KEY SHARE: the subsidy
    chunks holding their batch that way go on while the batch's progress is counted."""
    return (
        type(instance)
        ._default_manager.select_for_update(of=("self",), no_key=no_key)
        .select_related(*related)
        .get(pk=instance.pk)
    )


def guard(
    obj: models.Model,
    name: str,
    user,
    *,
    system: bool = False,
    not_allowed: NotAllowed = fsm_not_allowed,
    denied: Denied = permission_denied,
) -> None:
    """Refuse transition `name` from the wrong state (`not_allowed`, a 409) or to the wrong role or
    unit (`denied`, a 403); `system` steps (a task's) skip the role. The state comes first, and
    services call this before judging any rule of their own, so the answer to someone who may not
    take the step never depends on, nor reveals, the data behind the rule."""
    method = getattr(obj, name)
    if not can_proceed(method):
        raise not_allowed(obj, name)
    if not system and not has_transition_perm(method, user):
        raise denied(obj, name, user)


def take(
    obj: models.Model,
    name: str,
    user,
    *,
    system: bool = False,
    record: Record,
    not_allowed: NotAllowed = fsm_not_allowed,
    denied: Denied = permission_denied,
    save: bool = True,
) -> str:
    """Take transition `name` on a locked object: `guard`, the transition, `save()` (unless the
    caller saves the object itself with its other figures), then `record` writes the history and
    audit rows. Returns the old state."""
    guard(obj, name, user, system=system, not_allowed=not_allowed, denied=denied)
    from_state = obj.state
    getattr(obj, name)()
    if save:
        obj.save()
    record(obj, name, from_state, None if system else user)
    return from_state


def require_reason(reason, field: str) -> str:
    """The reason a step asks for, stripped; refused (400 `invalid` on `field`) when blank."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ApplicationError(_("Give the reason."), "invalid", field=field)
    return reason
