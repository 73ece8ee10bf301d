import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("fupin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The scheduled jobs' runs are recorded (core.models.JobRun) from the tasks' own start and end,
# whether a worker or the demo's in-process scheduler runs them (config/daily.py).
@signals.task_prerun.connect
def _job_started(task_id=None, task=None, **kwargs):
    if task is not None and task.name in _daily_tasks():
        from .daily import task_started

        task_started(task_id, task.name)


@signals.task_postrun.connect
def _job_finished(task_id=None, task=None, retval=None, state=None, **kwargs):
    if task is not None and task.name in _daily_tasks():
        from .daily import task_finished

        task_finished(task_id, task.name, state, retval)


def _daily_tasks() -> set[str]:
    from django.conf import settings

    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
