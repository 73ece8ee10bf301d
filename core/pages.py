"""Helpers the server-rendered pages of every app share: where a service's refusal goes on a
form (`place_error`, `place_validation_error`), and the one way a page takes a step with a
posted form (`run_form_step`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from .exceptions import ApplicationError, NotPermitted


def shows(form: forms.Form, field: str | None) -> bool:
    """Whether the form shows `field` to the person filling it in (a hidden input does not)."""
    return bool(field) and field in form.fields and not form.fields[field].widget.is_hidden


def place_error(form: forms.Form, error: ApplicationError, *, default_field: str | None = None) -> None:
    """Show a service's refusal where the person will look for it: each message of
    `extra.fields` next to its field, else the message next to `error.field` (or `default_field`),
    whenever the form shows that field; at the top of the form otherwise."""
    fields = error.extra.get("fields") if isinstance(error.extra, dict) else None
    if isinstance(fields, dict) and fields:
        place_messages(form, fields)
        return
    field = error.field or default_field
    form.add_error(field if shows(form, field) else None, str(error.message))


def place_messages(form: forms.Form, fields: dict) -> None:
    """Each message of `fields` (a field's name → a message or a list of them) next to its field
    when the form shows it, at the top of the form otherwise."""
    for field, messages in fields.items():
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            form.add_error(field if shows(form, field) else None, str(message))


def place_validation_error(form: forms.Form, error: ValidationError) -> None:
    """A model's `ValidationError` from a service: each message next to its field when the form
    shows it, at the top of the form otherwise."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        for message in messages:
            form.add_error(field if shows(form, field) else None, message)


class Outcome(NamedTuple):
    """What `run_form_step` did: `ok` with the service's `result`, or not (the form shows why)
    with the page's `status`; `leftover` is what a custom `place` returned (the application
    pages' rules that belong to no field of the form)."""

    ok: bool
    result: Any
    status: int
    leftover: list


# A page shown, not posted: nothing to take, nothing to show, 200.
NOT_POSTED = Outcome(False, None, 200, [])

Place = Callable[..., Any]


def run_form_step(
    form: forms.Form,
    call: Callable[[dict], Any],
    *,
    place: Place = place_error,
    default_field: str | None = None,
) -> Outcome:
    """Take a step with a posted form: validate it, then `call(form.cleaned_data)` (the service).
    An invalid form answers 400. A refusal is put on the form by `place(form, error,
    default_field=…)` with the error's status; a model `ValidationError` next to its fields with
    400. A role that may not act is the page's 403, never a message on the form."""
    if not form.is_valid():
        return Outcome(False, None, 400, [])
    try:
        return Outcome(True, call(form.cleaned_data), 200, [])
    except NotPermitted as e:
        raise PermissionDenied(e.message) from None
    except ApplicationError as e:
        leftover = place(form, e, default_field=default_field)
        return Outcome(False, None, e.status_code, leftover or [])
    except ValidationError as e:
        place_validation_error(form, e)
        return Outcome(False, None, 400, [])
