"""Writes on the shared models that belong to no one app."""

from .models import Notice


def notice_dismiss(*, acting_user, notice: Notice) -> None:
    """Hide a dashboard notice for this user only; colleagues who share the role still see it. Not
    audited: it changes what one person's home page lists, not any record of the work."""
    notice.dismissed_by.add(acting_user)
