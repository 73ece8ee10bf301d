"""Errors of the households app, all `ApplicationError`s so the API and the pages map them once.

Errors about one input carry `field` (where a page shows the message) and `extra.fields` in the
API's `invalid` shape. A member's field is addressed as ``members.<index>.<name>`` on the page
and as ``{"members": {"<index>": {"<name>": [...]}}}`` in the API (the shape DRF gives nested list
errors), the index being the member's position in the list the caller passed."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError, ConflictError


def _extra(fields: dict, rule: str | None, message, source: str | None) -> dict:
    extra = {"fields": fields}
    if rule:
        extra["rules"] = [{"rule": rule, "message": str(message), "source": source or ""}]
    return extra


def field_error(field: str, message, *, rule: str | None = None, source: str | None = None):
    """Bad input for one field: `invalid`, or `rule_failed` when a named rule is broken."""
    return ApplicationError(
        message,
        "rule_failed" if rule else "invalid",
        _extra({field: [str(message)]}, rule, message, source),
        field=field,
    )


def member_error(index: int, field: str, message, *, rule=None, source=None):
    """Bad input for one member's field."""
    return ApplicationError(
        message,
        "rule_failed" if rule else "invalid",
        _extra({"members": {str(index): {field: [str(message)]}}}, rule, message, source),
        field=f"members.{index}.{field}",
    )


def duplicate_id_number(masked: str, index: int) -> ApplicationError:
    return member_error(
        index,
        "id_number",
        _(
            "ID number %(masked)s is already registered in the system; "
            "one person can be in one household only."
        )
        % {"masked": masked},
        rule="id_number_unique",
        source="DOMAIN §2",
    )


class AlreadyBlacklisted(ConflictError):
    """At most one active entry per household (P1 art.22); also the answer when two people add
    the same household at the same moment and the database's unique index refuses the second."""

    def __init__(self, entry=None):
        if entry is not None and entry.added_at:
            message = _(
                "This household is already on the blacklist (since %(date)s); an active entry must be "
                "removed before a new one is added."
            ) % {"date": timezone.localtime(entry.added_at).date()}
        else:
            message = _("This household is already on the blacklist.")
        super().__init__(message, "conflict", {"entry": getattr(entry, "pk", None)})
