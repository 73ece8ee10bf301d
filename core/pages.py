"""Helpers the server-rendered pages of every app share."""

from __future__ import annotations

from django import forms

from .exceptions import ApplicationError


def shows(form: forms.Form, field: str | None) -> bool:
    """Whether the form shows `field` to the person filling it in (a hidden input does not)."""
    return bool(field) and field in form.fields and not form.fields[field].widget.is_hidden


def place_error(form: forms.Form, error: ApplicationError, *, default_field: str | None = None) -> None:
    """Show a service's refusal where the person will look for it: each message of
    `extra.fields` next to its field, else the message next to `error.field` (or `default_field`),
    whenever the form shows that field; at the top of the form otherwise."""
    fields = error.extra.get("fields") if isinstance(error.extra, dict) else None
    if isinstance(fields, dict) and fields:
        for field, messages in fields.items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                form.add_error(field if shows(form, field) else None, str(message))
        return
    field = error.field or default_field
    form.add_error(field if shows(form, field) else None, str(error.message))
