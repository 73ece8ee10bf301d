"""The one error type for broken business rules, mapped once to API answers and page messages."""

from __future__ import annotations


class ApplicationError(Exception):
    """A rule said no. `code` is stable for API clients; `message` is for people (translated)."""

    status_code = 400

    def __init__(self, message, code: str = "rule_failed", extra: dict | None = None, *, field=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}
        # The form field the message belongs next to on a page, when there is one.
        self.field = field


class ConflictError(ApplicationError):
    """The object changed meanwhile, or the action is not allowed from its state (409)."""

    status_code = 409

    def __init__(self, message, code: str = "conflict", extra: dict | None = None, **kw):
        super().__init__(message, code, extra, **kw)


class NotPermitted(ApplicationError):
    """Authenticated, but this role may not do this (403)."""

    status_code = 403

    def __init__(self, message, code: str = "permission_denied", extra: dict | None = None, **kw):
        super().__init__(message, code, extra, **kw)


def rule_failed(
    rule: str, message, source: str, *, field=None, extra: dict | None = None
) -> ApplicationError:
    """A single broken rule in the API's `rule_failed` shape; `extra` adds details beside the rules."""
    return ApplicationError(
        message,
        "rule_failed",
        {"rules": [{"rule": rule, "message": str(message), "source": source}], **(extra or {})},
        field=field,
    )
