"""The daily task `loans.end_due_publicity`, run by a real Celery worker (tests/celery_worker.py: a
subprocess on its own queue, Redis as broker and result backend) against the test database. The
test commits its data (a transactional test) so the worker's own connection sees it."""

import datetime
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings

from config.celery import app as celery_app
from core.models import AuditEvent
from loans.models import ApplicationHistory, LoanApplication, PublicityNotice
from loans.services import applications
from loans.tasks import end_due_publicity
from loans.workflow import State
from tests.celery_worker import start_worker_fixture, worker_queue_fixture  # noqa: F401

RESULT_SECONDS = 60


def _run(queue: str, day: datetime.date) -> list[int]:
    result = end_due_publicity.apply_async(args=[day.isoformat()], queue=queue)
    try:
        return result.get(timeout=RESULT_SECONDS)
    finally:
        result.forget()


def _counts() -> tuple[int, int]:
    return ApplicationHistory.objects.count(), AuditEvent.objects.count()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_ends_due_publicity_once(world, new_application, drive, worker_queue):
    due = [drive(new_application(amount=Decimal("10000.00")), State.PUBLICITY) for _ in range(2)]
    in_review = drive(new_application(amount=Decimal("10000.00")), State.VILLAGE_REVIEW)
    last_day = max(PublicityNotice.objects.values_list("end_on", flat=True))
    due_pks = sorted(app.pk for app in due)

    # On the notices' last day nothing is due yet.
    before = _counts()
    assert _run(worker_queue, last_day) == []
    assert _counts() == before

    # The day after: both move, each with one history row and one audit record by nobody.
    first = _run(worker_queue, last_day + datetime.timedelta(days=1))
    assert sorted(first) == due_pks
    states = dict(LoanApplication.objects.values_list("pk", "state"))
    assert [states[pk] for pk in due_pks] == [State.BANK_ACCEPTANCE, State.BANK_ACCEPTANCE]
    assert states[in_review.pk] == State.VILLAGE_REVIEW
    rows = ApplicationHistory.objects.filter(transition="end_publicity").order_by("application_id")
    assert [(r.application_id, r.from_state, r.to_state, r.by_id) for r in rows] == [
        (pk, State.PUBLICITY, State.BANK_ACCEPTANCE, None) for pk in due_pks
    ]
    assert _counts() == (before[0] + 2, before[1] + 2)
    assert set(
        AuditEvent.objects.filter(action="application.end_publicity").values_list("object_id", flat=True)
    ) == {str(pk) for pk in due_pks}
    assert set(
        PublicityNotice.objects.filter(application_id__in=due_pks).values_list("status", flat=True)
    ) == {PublicityNotice.Status.ENDED}

    # Run again (a retry, or beat firing twice): nothing left to do, nothing written.
    after_first = _counts()
    assert _run(worker_queue, last_day + datetime.timedelta(days=1)) == []
    assert _run(worker_queue, last_day + datetime.timedelta(days=2)) == []
    assert _counts() == after_first
    assert dict(LoanApplication.objects.values_list("pk", "state")) == states


def test_task_without_a_date_uses_today(world, new_application, drive, monkeypatch):
    """Beat sends no argument: the task counts from the services' today (Asia/Shanghai)."""
    app = drive(new_application(), State.PUBLICITY)
    last_day = max(app.notices.values_list("end_on", flat=True))

    monkeypatch.setattr(applications, "_today", lambda: last_day)
    assert end_due_publicity() == []
    monkeypatch.setattr(applications, "_today", lambda: last_day + datetime.timedelta(days=1))
    assert end_due_publicity() == [app.pk]
    assert LoanApplication.objects.get(pk=app.pk).state == State.BANK_ACCEPTANCE


def test_beat_schedule_runs_the_task_every_night():
    entry = settings.CELERY_BEAT_SCHEDULE["end-due-publicity"]
    assert entry["task"] == "loans.end_due_publicity" == end_due_publicity.name
    assert entry["task"] in celery_app.tasks
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    # Every day shortly after midnight, Beijing time: the previous day was the notices' last.
    assert (schedule.hour, schedule.minute) == ({0}, {10})
    assert schedule.day_of_week == set(range(7))
    assert schedule.day_of_month == set(range(1, 32))
    assert celery_app.conf.timezone == settings.TIME_ZONE == "Asia/Shanghai"
    assert celery_app.conf.beat_schedule["end-due-publicity"]["task"] == "loans.end_due_publicity"
