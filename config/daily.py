"""The scheduled jobs (issue 14): one registry of CELERY_BEAT_SCHEDULE's jobs with their Chinese
names and what each moved, the record of their runs (core.models.JobRun), and running them.

Three things start a job, and all three go through `job_run`:
- production: Celery beat sends the task to a worker; the task's own start and end fill in its
  JobRun row (config/celery.py connects `task_started` and `task_finished` to Celery's signals);
- the demo (`make run`, no Redis): `manage.py run_scheduler` evaluates the same crontabs with
  Celery's own schedule objects (`due_jobs`) and runs the due tasks in its own process; at
  start-up it first catches up whatever was due since the last recorded run (a demo machine is
  off at 00:10);
- an administrator's button ("运行今日定时任务", config/views_jobs.py): every daily job now, in the
  request when tasks are eager (the demo), queued to the workers otherwise (production).

Every job is safe to run twice: each one changes only what is due and still unchanged."""

from __future__ import annotations

import copy
import datetime
import logging
import uuid
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit
from core.models import JobRun

log = logging.getLogger(__name__)

# The jobs in the order they run at night (the checks are scheduled after the overdue ageing), each
# with its name as people say it. A job added to CELERY_BEAT_SCHEDULE later is listed after these
# under its task's name.
LABELS = {
    "end-due-publicity": gettext_lazy("End of publicity"),
    "refresh-overdue": gettext_lazy("Overdue ageing and classification"),
    "schedule-checks": gettext_lazy("Post-loan check scheduling"),
    "subsidy-quarterly-batches": gettext_lazy("Quarterly interest subsidy batches"),
    "subsidy-resume-stalled": gettext_lazy("Resume stalled subsidy computations"),
    "dossier-resume-stalled": gettext_lazy("Resume stalled dossier printing"),
}
# How many runs of a job are kept (the sweeps run every 10 minutes).
KEEP_RUNS = 50


@dataclass(frozen=True)
class Job:
    key: str  # its name in CELERY_BEAT_SCHEDULE
    task: str
    schedule: object  # celery.schedules.crontab

    @property
    def label(self) -> str:
        return str(LABELS.get(self.key, self.task))

    @property
    def when(self) -> str:
        return schedule_text(self.schedule)


def jobs() -> list[Job]:
    entries = settings.CELERY_BEAT_SCHEDULE
    order = [k for k in LABELS if k in entries] + [k for k in entries if k not in LABELS]
    return [Job(key, entries[key]["task"], entries[key]["schedule"]) for key in order]


def job_for_task(task_name: str) -> Job | None:
    return next((job for job in jobs() if job.task == task_name), None)


def schedule_text(schedule) -> str:
    """A crontab as people say it: 每天 00:10, 每 10 分钟 (else the crontab's own text)."""
    minute, hour = str(getattr(schedule, "_orig_minute", "")), str(getattr(schedule, "_orig_hour", ""))
    if hour == "*" and minute.startswith("*/"):
        return _("every %(n)s minutes") % {"n": minute[2:]}
    if minute.isdigit() and hour.isdigit() and len(getattr(schedule, "day_of_week", ())) == 7:
        return _("daily at %(time)s") % {"time": f"{int(hour):02d}:{int(minute):02d}"}
    return str(schedule)


def summary(task_name: str, result) -> str:
    """What a run moved, from its task's return value (a list of ids, a count or the overdue
    ageing's figures), e.g. "结束公示 3 笔"."""
    if result is None:
        return ""
    if task_name == "loans.refresh_overdue" and isinstance(result, dict):
        parts = [
            _("%(loans)s open loans checked, %(overdue)s became overdue, %(cured)s back to normal")
            % {
                "loans": result.get("loans", 0),
                "overdue": result.get("overdue", 0),
                "cured": result.get("cured", 0),
            }
        ]
        for key, count in (result.get("entered") or {}).items():
            parts.append(
                _("%(n)s entered %(bucket)s days overdue") % {"n": count, "bucket": key.replace("gt", ">")}
            )
        parts.append(_("%(n)s reclassified") % {"n": result.get("reclassified", 0)})
        return _("; ").join(parts)
    count = len(result) if isinstance(result, list | tuple) else result
    texts = {
        "loans.end_due_publicity": _("%(n)s applications left publicity"),
        "loans.schedule_checks": _("%(n)s post-loan checks scheduled"),
        "subsidies.ensure_quarterly_batches": _("%(n)s subsidy batches created"),
        "subsidies.resume_stalled": _("%(n)s subsidy batches resumed"),
        "archives.resume_stalled_dossiers": _("%(n)s dossier printing jobs queued again"),
    }
    if task_name in texts and isinstance(count, int):
        return texts[task_name] % {"n": count}
    return str(result)


# ---------------------------------------------------------------------------------------------
# Running a job and recording the run


def eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def job_run(job: Job, *, trigger: str, user=None) -> JobRun:
    """Run (tasks eager) or queue (a worker runs it) one job, recorded as a JobRun. The task's
    start and end fill the row in (`task_started`, `task_finished`); a job that fails is recorded
    as failed and does not stop the caller's other jobs."""
    run = JobRun.objects.create(
        job=job.key, task_id=str(uuid.uuid4()), trigger=trigger, requested_by=user, queued_at=timezone.now()
    )
    options = dict(settings.CELERY_BEAT_SCHEDULE[job.key].get("options") or {})
    try:
        # The apps' tasks modules are found on first use (Celery's autodiscovery is lazy).
        current_app.loader.import_default_modules()
        current_app.tasks[job.task].apply_async(task_id=run.task_id, **options)
    except Exception as error:  # noqa: BLE001 - one failing job must not stop the others
        log.exception("Daily job %s failed", job.key)
        JobRun.objects.filter(pk=run.pk).exclude(state=JobRun.State.FAILED).update(
            state=JobRun.State.FAILED, finished_at=timezone.now(), error=repr(error)[:2000]
        )
    run.refresh_from_db()
    return run


def job_run_here(task_name: str, *, trigger: str, on_date: datetime.date | None = None):
    """Run one job's task in this process now, recorded like every run: its JobRun row, filled in
    by the task's own start and end (`task_started`, `task_finished`), eager or not. The demo's
    story runs the nightly jobs this way on the nights it tells (trigger "demo", issue 14), so
    the jobs page says when they last ran. Returns the task's return value; an error propagates
    (the run is then recorded as failed)."""
    job = job_for_task(task_name)
    if job is None:
        raise ValueError(f"{task_name} is not a scheduled job")
    run = JobRun.objects.create(
        job=job.key, task_id=str(uuid.uuid4()), trigger=trigger, queued_at=timezone.now()
    )
    current_app.loader.import_default_modules()
    kwargs = {"on_date": on_date.isoformat()} if on_date else {}
    return current_app.tasks[task_name].apply(kwargs=kwargs, task_id=run.task_id).get()


def jobs_run_now(*, acting_user) -> list[JobRun]:
    """The administrators' button: every scheduled job now, in order; each run is audited (who,
    when, what it moved — or that it was queued)."""
    runs = []
    for job in jobs():
        run = job_run(job, trigger=JobRun.Trigger.MANUAL, user=acting_user)
        with transaction.atomic():
            audit(
                actor=acting_user,
                action="daily_job.run",
                obj=run,
                data={"job": job.key, "task": job.task, "state": run.state, "result": run.result},
            )
        runs.append(run)
    return runs


def task_started(task_id: str, task_name: str) -> None:
    """Celery's task_prerun: a daily job's run starts (in a worker, or in-process when eager)."""
    job = job_for_task(task_name)
    if job is None:
        return
    now = timezone.now()
    updated = JobRun.objects.filter(task_id=task_id).update(state=JobRun.State.RUNNING, started_at=now)
    if not updated:
        # Sent by beat: no one asked for it through job_run.
        JobRun.objects.get_or_create(
            task_id=task_id,
            defaults={
                "job": job.key,
                "trigger": JobRun.Trigger.SCHEDULE,
                "state": JobRun.State.RUNNING,
                "queued_at": now,
                "started_at": now,
            },
        )


def task_finished(task_id: str, task_name: str, state: str, retval) -> None:
    """Celery's task_postrun: the run's end, its result (or error), and old runs of the job pruned."""
    job = job_for_task(task_name)
    if job is None:
        return
    failed = state != "SUCCESS"
    JobRun.objects.filter(task_id=task_id).update(
        state=JobRun.State.FAILED if failed else JobRun.State.DONE,
        finished_at=timezone.now(),
        result=None if failed else _jsonable(retval),
        error=repr(retval)[:2000] if failed else "",
    )
    keep = JobRun.objects.filter(job=job.key).order_by("-queued_at", "-id").values("pk")[KEEP_RUNS:]
    JobRun.objects.filter(pk__in=list(keep)).delete()


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# The demo's scheduler


def last_runs(*, until: datetime.datetime | None = None) -> dict[str, JobRun]:
    """The latest run of each job (one query); only those asked for by `until`, if given."""
    runs = JobRun.objects.filter(job=OuterRef("job"))
    if until is not None:
        runs = runs.filter(queued_at__lte=until)
    latest = runs.order_by("-queued_at", "-id").values("pk")[:1]
    rows = JobRun.objects.filter(pk=Subquery(latest)).select_related("requested_by")
    return {run.job: run for run in rows}


def due_jobs(now: datetime.datetime | None = None) -> list[Job]:
    """The jobs whose crontab fell due since their last recorded run (whatever started it: the
    button run at 09:00 is today's run of a job due at 00:10). A job never run counts from
    midnight today, so a machine started at 09:00 catches up today's 00:10 job at once, once;
    after days switched off, each job runs once (they all work from today's state)."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Runs recorded under a clock set ahead (a demo started with faketime) are ignored.
    last = last_runs(until=now)
    due = []
    for job in jobs():
        since = last[job.key].queued_at if job.key in last else midnight
        # Celery's own schedule object, asked about `now` rather than its app's clock.
        schedule = copy.copy(job.schedule)
        schedule.nowfun = lambda: now
        if schedule.is_due(since).is_due:
            due.append(job)
    return due


def due_run(*, trigger: str = JobRun.Trigger.SCHEDULE, now: datetime.datetime | None = None) -> list[JobRun]:
    """One turn of the scheduler: run every due job, in order."""
    return [job_run(job, trigger=trigger) for job in due_jobs(now)]


def seconds_to_next(now: datetime.datetime | None = None, *, cap: float = 60.0) -> float:
    """How long the scheduler may sleep: until the next minute starts (crontabs are per minute),
    at most `cap` seconds."""
    now = now or timezone.now()
    return max(1.0, min(cap, 60.0 - now.second - now.microsecond / 1e6 + 0.5))
