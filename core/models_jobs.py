"""Runs of the scheduled jobs (issue 14): config/daily.py records them, the admin page
"运行今日定时任务" and the demo's scheduler read them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One run of a scheduled job of CELERY_BEAT_SCHEDULE (issue 14): when it was asked for, by
    what (the schedule, the start-up catch-up, an administrator's button), when it ran and what it
    moved (the task's return value). Keyed by the Celery task id: the row is made when the run is
    asked for and filled in by the task's own start and end (config/celery.py's signal handlers),
    in the demo's scheduler as in a production worker."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("on schedule")
        CATCH_UP = "catch_up", _("caught up at start-up")
        MANUAL = "manual", _("run by an administrator")
        DEMO = "demo", _("while the demo data was loaded")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.CharField(_("job"), max_length=64)
    task_id = models.CharField(_("task id"), max_length=64, unique=True)
    trigger = models.CharField(_("started by"), max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["job", "-queued_at"])]

    def __str__(self):
        return f"{self.job} {self.queued_at:%Y-%m-%d %H:%M}"
