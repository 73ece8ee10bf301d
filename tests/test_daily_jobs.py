"""The scheduled jobs in the demo (issue 14): the scheduler that `make run` starts evaluates
CELERY_BEAT_SCHEDULE's crontabs and runs the due tasks in its own process, catching up at start-up;
the administrators' page runs every job now and shows what each moved; every run is recorded."""

import datetime
import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from config import daily
from config.celery import app as celery_app
from core.models import AuditEvent, JobRun
from loans.models import ApplicationHistory, LoanApplication, PostLoanCheck, PublicityNotice
from loans.workflow import State
from subsidies.models import SubsidyBatch
from tests.conftest import SHANGHAI
from tests.factories import HouseholdFactory
from tests.loans.conftest import calendar_ahead, drive, household, new_application  # noqa: F401
from tests.loans.test_settlements import make_loan

BASE = settings.BASE_DIR


@pytest.fixture
def eager():
    """Tasks run in this process, as in the demo (the app reads its configuration once, so the
    switch is on the app); the previous values come back at teardown."""
    before = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def in_publicity(world, new_application, drive):  # noqa: F811
    """An application in publicity, and the last day of its notices."""
    application = drive(new_application(amount=Decimal("10000.00")), State.PUBLICITY)
    last_day = max(application.notices.values_list("end_on", flat=True))
    return application, last_day


def at(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def state_of(application) -> str:
    return LoanApplication.objects.get(pk=application.pk).state


# ---------------------------------------------------------------------------------------------
# The scheduler


def test_the_registry_lists_every_beat_job_with_a_name_and_a_schedule():
    jobs = daily.jobs()
    assert {job.key for job in jobs} == set(settings.CELERY_BEAT_SCHEDULE)
    # In the night's order: the checks are scheduled after the overdue ageing.
    keys = [job.key for job in jobs]
    assert keys.index("end-due-publicity") < keys.index("refresh-overdue") < keys.index("schedule-checks")
    assert all(job.label != job.task for job in jobs)
    whens = {job.key: job.when for job in jobs}
    assert whens["end-due-publicity"] == "每天 00:10"
    assert whens["subsidy-resume-stalled"] == "每 10 分钟"


def test_the_scheduler_ends_publicity_just_after_0010(world, in_publicity, pinned_clock, eager):
    application, last_day = in_publicity
    next_day = last_day + datetime.timedelta(days=1)

    # 00:05 the next day: nothing fell due since midnight.
    pinned_clock.move_to(at(next_day, 0, 5))
    assert daily.due_run() == []
    assert state_of(application) == State.PUBLICITY

    # 00:11: the 00:10 job (and the 10-minute sweeps) are due; the 00:30 ageing is not yet.
    pinned_clock.move_to(at(next_day, 0, 11))
    runs = daily.due_run()
    assert [r.job for r in runs] == ["end-due-publicity", "subsidy-resume-stalled", "dossier-resume-stalled"]
    assert state_of(application) == State.BANK_ACCEPTANCE
    publicity = JobRun.objects.get(job="end-due-publicity")
    assert (publicity.state, publicity.trigger, publicity.result) == ("done", "schedule", [application.pk])
    assert publicity.started_at and publicity.finished_at >= publicity.started_at

    # A minute later nothing is due again; at 00:31 the ageing is, once.
    pinned_clock.move_to(at(next_day, 0, 12))
    assert daily.due_run() == []
    pinned_clock.move_to(at(next_day, 0, 31))
    assert [r.job for r in daily.due_run()] == [
        "refresh-overdue",
        "subsidy-resume-stalled",
        "dossier-resume-stalled",
    ]
    assert [r.job for r in daily.due_run()] == []


def test_the_scheduler_catches_up_what_was_due_while_the_machine_was_off(
    world, in_publicity, pinned_clock, eager
):
    """Switched off at night, started at 09:00 three days later: each daily job runs once, now."""
    application, last_day = in_publicity
    pinned_clock.move_to(at(last_day, 0, 20))
    daily.due_run()  # the machine was last on the notices' last day, after the 00:10 run
    assert state_of(application) == State.PUBLICITY

    pinned_clock.move_to(at(last_day + datetime.timedelta(days=3), 9, 0))
    runs = daily.due_run(trigger=JobRun.Trigger.CATCH_UP)
    assert [r.job for r in runs] == [job.key for job in daily.jobs()]
    assert {r.trigger for r in runs} == {"catch_up"}
    assert {r.state for r in runs} == {"done"}
    assert state_of(application) == State.BANK_ACCEPTANCE
    assert daily.due_run() == []


def test_runs_recorded_under_a_clock_set_ahead_do_not_stop_the_scheduler(world, pinned_clock, eager):
    """A demo started with `faketime -f '+8d'`, then again on the real date: the runs recorded "in
    the future" count as not run today, so today's jobs still run (once)."""
    today = datetime.date(2026, 6, 17)
    pinned_clock.move_to(at(today + datetime.timedelta(days=8), 9, 0))
    assert len(daily.due_run()) == len(daily.jobs())
    pinned_clock.move_to(at(today, 9, 0))
    assert [r.job for r in daily.due_run()] == [job.key for job in daily.jobs()]
    assert daily.due_run() == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is installed by make test")
def test_the_scheduler_process_under_a_clock_just_after_0010(world, in_publicity):
    """`manage.py run_scheduler --once` as a process of its own, against the test database, with
    its clock set by faketime to 00:11 the day after the notices' last day: no mock, no broker."""
    application, last_day = in_publicity
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # The suite itself may run under faketime (the any-day checks): the child gets its own clock,
    # not the outer one's LD_PRELOAD and shared-memory settings.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("FAKETIME", "LD_PRELOAD"))}
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": url,
        "TZ": "Asia/Shanghai",
    }
    when = f"{last_day + datetime.timedelta(days=1)} 00:11:00"
    done = subprocess.run(
        ["faketime", when, sys.executable, "manage.py", "run_scheduler", "--once"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "结束公示（启动时补跑）：结束公示 1 笔" in done.stdout
    assert state_of(application) == State.BANK_ACCEPTANCE
    run = JobRun.objects.get(job="end-due-publicity")
    assert (run.state, run.trigger, run.result) == ("done", "catch_up", [application.pk])
    assert run.started_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == when[:16]
    notices = PublicityNotice.objects.filter(application=application)
    assert set(notices.values_list("status", flat=True)) == {"ended"}


# ---------------------------------------------------------------------------------------------
# The administrators' page


URL = "/jobs/"


def test_the_page_is_for_administrators_only(world, client, client_as):
    assert reverse("daily_jobs") == URL
    assert client.get(URL).status_code == 302  # to the login page
    for user in (world.cadre, world.officer, world.county_office, world.finance):
        assert client_as(user).get(URL).status_code == 403
        assert client_as(user).post(URL).status_code == 403
    assert not JobRun.objects.exists()
    page = client_as(world.admin).get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "运行今日定时任务" in text and "结束公示" in text and "每天 00:10" in text
    assert text.count("从未运行") == len(daily.jobs())


def test_the_menu_links_the_page_for_administrators(world, client_as):
    assert URL in client_as(world.admin).get("/").content.decode()
    assert URL not in client_as(world.officer).get("/").content.decode()


def test_the_button_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.admin)
    assert client.post(URL).status_code == 403
    assert not JobRun.objects.exists()


def test_running_today_s_jobs_by_hand(world, in_publicity, pinned_clock, client_as, eager):
    application, last_day = in_publicity
    # A loan that falls due on the notices' last day: the next morning it is one day overdue, and
    # it has no post-loan check yet.
    loan = make_loan(
        HouseholdFactory(village=world.v1a, head__age=45),
        world,
        disbursed_on=last_day - datetime.timedelta(days=365),
        maturity_on=last_day,
    )
    pinned_clock.move_to(at(last_day + datetime.timedelta(days=1), 9, 30))
    admin = client_as(world.admin)

    response = admin.post(URL, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert state_of(application) == State.BANK_ACCEPTANCE
    loan.refresh_from_db()
    assert (loan.state, loan.days_past_due) == ("overdue", 1)
    assert PostLoanCheck.objects.filter(loan=loan, done_on__isnull=True).count() == 1
    # The message and the table say what each job moved.
    for figure in (
        "结束公示 1 笔",
        "转入逾期 1 笔",
        "1 笔进入逾期 1-30 天",
        "新建贷后检查 1 项",
        # The first quarter's batch of each of the world's two counties.
        "新建贴息批次 2 个",
    ):
        assert figure in text, figure
    assert "管理员手动运行" in text

    # Audited: who and when, one event per job, with what it moved.
    events = AuditEvent.objects.filter(action="daily_job.run").order_by("id")
    assert [e.actor_id for e in events] == [world.admin.pk] * len(daily.jobs())
    assert [e.data["job"] for e in events] == [job.key for job in daily.jobs()]
    assert events[0].data["result"] == [application.pk]
    assert {r.requested_by_id for r in JobRun.objects.all()} == {world.admin.pk}

    # Twice is harmless: nothing moves again, nothing is written twice.
    history = ApplicationHistory.objects.count()
    checks = PostLoanCheck.objects.count()
    batches = SubsidyBatch.objects.count()
    text = admin.post(URL, follow=True).content.decode()
    assert "结束公示 0 笔" in text and "新建贷后检查 0 项" in text and "新建贴息批次 0 个" in text
    assert (ApplicationHistory.objects.count(), PostLoanCheck.objects.count()) == (history, checks)
    assert SubsidyBatch.objects.count() == batches
    assert state_of(application) == State.BANK_ACCEPTANCE
    assert AuditEvent.objects.filter(action="daily_job.run").count() == 2 * len(daily.jobs())


def test_a_failing_job_is_recorded_and_the_others_still_run(
    world, in_publicity, pinned_clock, client_as, eager, settings
):
    application, last_day = in_publicity
    settings.CELERY_BEAT_SCHEDULE = {
        "broken": {
            "task": "no.such_task",
            "schedule": crontab(hour=0, minute=5),
        },
        "end-due-publicity": settings.CELERY_BEAT_SCHEDULE["end-due-publicity"],
    }
    pinned_clock.move_to(at(last_day + datetime.timedelta(days=1), 9, 30))
    text = client_as(world.admin).post(URL, follow=True).content.decode()
    assert JobRun.objects.get(job="broken").state == "failed"
    assert "失败" in text
    assert state_of(application) == State.BANK_ACCEPTANCE


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_in_production_the_button_queues_the_jobs(world, client_as, settings):
    """Tasks not eager (production): the button sends each job to the broker (the machine's real
    Redis, on a queue of this test's own that no worker reads) and the page says they are queued."""
    queue = f"daily-jobs-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BEAT_SCHEDULE = {
        key: {**entry, "options": {"queue": queue}} for key, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    assert not celery_app.conf.task_always_eager
    try:
        text = client_as(world.admin).post(URL, follow=True).content.decode()
        runs = JobRun.objects.all()
        assert runs.count() == len(daily.jobs())
        assert {r.state for r in runs} == {"queued"}
        assert "已排队" in text
        with celery_app.connection_for_write() as conn:
            assert conn.default_channel.queue_declare(queue, passive=True).message_count == len(daily.jobs())
    finally:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


# ---------------------------------------------------------------------------------------------
# What a job moved, as the page says it


def test_summaries():
    assert daily.summary("loans.end_due_publicity", [1, 2, 3]) == "结束公示 3 笔"
    assert daily.summary("loans.schedule_checks", 5) == "新建贷后检查 5 项"
    assert daily.summary("subsidies.ensure_quarterly_batches", []) == "新建贴息批次 0 个"
    text = daily.summary(
        "loans.refresh_overdue",
        {
            "loans": 30,
            "changed": 9,
            "reclassified": 1,
            "overdue": 2,
            "cured": 1,
            "entered": {"31-90": 2, "gt360": 1},
        },
    )
    assert "转入逾期 2 笔" in text and "2 笔进入逾期 31-90 天" in text and "1 笔进入逾期 >360 天" in text
