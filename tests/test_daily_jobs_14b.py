"""Issue 14: the scheduled jobs page names each job without its Celery task code, and the demo's
story records the nightly jobs it runs (trigger "demo"), so the page does not say 从未运行 for jobs
the demo data went through."""

import datetime
import re
from decimal import Decimal

import pytest

from config import daily
from core.models import JobRun
from loans.workflow import State
from tests.conftest import SHANGHAI
from tests.loans.conftest import calendar_ahead, drive, household, new_application  # noqa: F401

URL = "/jobs/"


def visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_page_shows_no_task_codes(world, client_as):
    html = client_as(world.admin).get(URL).content.decode()
    for job in daily.jobs():
        assert job.label in html
        assert job.task not in visible(html), job.task
        # Still there for whoever needs it, on hover.
        assert f'title="{job.task}"' in html


def test_a_job_the_demo_runs_is_recorded_and_shown(world, new_application, drive, pinned_clock, client_as):  # noqa: F811
    application = drive(new_application(amount=Decimal("10000.00")), State.PUBLICITY)
    night = max(application.notices.values_list("end_on", flat=True)) + datetime.timedelta(days=1)
    pinned_clock.move_to(datetime.datetime.combine(night, datetime.time(0, 10), tzinfo=SHANGHAI))

    moved = daily.job_run_here("loans.end_due_publicity", trigger=JobRun.Trigger.DEMO, on_date=night)

    assert moved == [application.pk]
    run = JobRun.objects.get()
    assert (run.job, run.trigger, run.state) == ("end-due-publicity", "demo", "done")
    assert run.result == [application.pk]
    assert run.started_at and run.finished_at
    pinned_clock.move_to(datetime.datetime.combine(night, datetime.time(9, 0), tzinfo=SHANGHAI))
    text = visible(client_as(world.admin).get(URL).content.decode())
    row = text.split("结束公示", 1)[1].split("逾期天数和五级分类", 1)[0]
    assert "载入演示数据时运行" in row and "结束公示 1 笔" in row
    assert "从未运行" not in row


def test_an_error_in_a_job_run_here_propagates_and_is_recorded(world, monkeypatch):
    from loans.services import applications

    def boom(on_date=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(applications, "publicity_end_due", boom)
    with pytest.raises(RuntimeError):
        daily.job_run_here("loans.end_due_publicity", trigger=JobRun.Trigger.DEMO)
    assert JobRun.objects.get().state == "failed"
