import datetime

from celery import shared_task
from django.utils import timezone

from .services import applications, checks, servicing


@shared_task(name="loans.end_due_publicity")
def end_due_publicity(on_date: str | None = None) -> list[int]:
    """Daily: applications whose every notice ended without objection go on to bank acceptance.
    Safe to run twice: the second run finds nothing left in publicity that is due."""
    day = datetime.date.fromisoformat(on_date) if on_date else None
    return applications.publicity_end_due(on_date=day)


@shared_task(name="loans.refresh_overdue")
def refresh_overdue(on_date: str | None = None) -> dict:
    """Daily: days past due, overdue state and the classification floor of every open loan.
    Safe to run twice: the second run the same day finds nothing to change."""
    day = datetime.date.fromisoformat(on_date) if on_date else timezone.localdate()
    return servicing.overdue_refresh(on_date=day)


@shared_task(name="loans.schedule_checks")
def schedule_checks(on_date: str | None = None) -> int:
    """Daily: every open loan without an open post-loan check gets its next one.
    Safe to run twice: the second run finds every open loan with its open check."""
    day = datetime.date.fromisoformat(on_date) if on_date else timezone.localdate()
    return checks.check_schedule_ensure(on_date=day)
