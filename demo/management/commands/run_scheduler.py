"""`manage.py run_scheduler`: the demo's stand-in for Celery beat and a worker (issue 14).

`make run` (scripts/run_local.sh) starts it beside gunicorn and stops it with gunicorn. It reads
CELERY_BEAT_SCHEDULE, asks Celery's own crontab objects which jobs fell due since their last
recorded run (config/daily.py), and runs those tasks in this process: no broker, no Redis. At
start-up it first catches up what was due while the machine was off (today's 00:10 jobs when the
demo starts at 09:00). Production runs beat and workers instead (docker-compose.yml)."""

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils import timezone

from config import daily
from config.celery import app
from core.models import JobRun


class Command(BaseCommand):
    help = "Run CELERY_BEAT_SCHEDULE's jobs in this process when they fall due (the demo; no broker)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit.")

    def handle(self, *args, once=False, **options):
        # Tasks run here, at once; a failing job is recorded as failed and the others go on.
        app.conf.task_always_eager = True
        app.conf.task_eager_propagates = True
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        names = ", ".join(f"{job.label}（{job.when}）" for job in daily.jobs())
        self.stdout.write(f"定时任务调度已启动 (scheduler started): {names}")
        trigger = JobRun.Trigger.CATCH_UP
        while not stop.is_set():
            try:
                for run in daily.due_run(trigger=trigger):
                    self._report(run)
                trigger = JobRun.Trigger.SCHEDULE
            except DatabaseError as error:
                # A database busy for longer than its timeout: try again at the next minute (the
                # jobs still due then run then); anything else is a bug and stops the demo.
                self.stderr.write(
                    f"定时任务调度：数据库暂不可用，下一分钟重试 (database unavailable): {error}"
                )
            if once:
                break
            stop.wait(daily.seconds_to_next())
        self.stdout.write("定时任务调度已停止 (scheduler stopped)")

    def _report(self, run: JobRun) -> None:
        job = next(j for j in daily.jobs() if j.key == run.job)
        when = timezone.localtime(run.started_at or run.queued_at).strftime("%Y-%m-%d %H:%M:%S")
        if run.state == JobRun.State.DONE:
            text = daily.summary(job.task, run.result)
        else:
            text = f"{run.get_state_display()} {run.error}"
        self.stdout.write(f"[{when}] {job.label}（{run.get_trigger_display()}）：{text}")
        self.stdout.flush()
