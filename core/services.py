"""Writes on the shared models that belong to no one app."""

from django.utils import timezone

from .models import Notice


def notice_post(*, unit, role: str, title: str, body: str = "", url: str = "") -> Notice:
    """Tell everyone holding `role` at `unit`. A notice about the same page (same unit, role and
    link) is brought up to date instead of repeated: it is new again (unread, not dismissed,
    dated now), so a batch recomputed or an application sent back twice shows once, as it is now."""
    notice = Notice.objects.filter(unit=unit, role=role, url=url).first() if url else None
    if notice is None:
        return Notice.objects.create(unit=unit, role=role, title=title, body=body, url=url)
    Notice.objects.filter(pk=notice.pk).update(title=title, body=body, created_at=timezone.now())
    notice.read_by.clear()
    notice.dismissed_by.clear()
    notice.refresh_from_db()
    return notice


def notice_update(*, url: str, role: str, title: str, body: str | None = None, unit=None) -> int:
    """Bring the notices about the page at `url` up to date (e.g. a batch's notice when the batch
    moves on), new again for everyone; the text stays when no `body` is given. Creates none.
    Returns how many were found."""
    notices = Notice.objects.filter(url=url, role=role)
    if unit is not None:
        notices = notices.filter(unit=unit)
    found = list(notices)
    for notice in found:
        notice_post(
            unit=notice.unit, role=role, title=title, body=notice.body if body is None else body, url=url
        )
    return len(found)


def notice_withdraw(*, url: str, role: str, unit=None) -> int:
    """Remove the notices about the page at `url`: what they asked for is done. Returns how many."""
    notices = Notice.objects.filter(url=url, role=role)
    if unit is not None:
        notices = notices.filter(unit=unit)
    return notices.delete()[1].get(Notice._meta.label, 0)


def notice_dismiss(*, acting_user, notice: Notice) -> None:
    """Hide a dashboard notice for this user only; colleagues who share the role still see it. Not
    audited: it changes what one person's home page lists, not any record of the work."""
    notice.dismissed_by.add(acting_user)


def notice_read(*, acting_user, notice: Notice) -> None:
    """The user opened the notice's link: it stays on their home page, marked read, until they
    dismiss it. Not audited, like dismissing."""
    notice.read_by.add(acting_user)
