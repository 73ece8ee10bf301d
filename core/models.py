import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who changed what, when, from where and why. Written by services in the same transaction
    as the change, so a rolled-back change leaves no audit row and a committed one always has one.

    Rows are append-only at the database (ASVS V16, issue 10): on PostgreSQL a trigger refuses
    every UPDATE and DELETE, whoever sends it (the ORM, the admin, raw SQL); on the embedded SQLite
    a plain trigger does the same (migration 0003). Nothing in the project changes an audit row."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    # The client's address of the request that made the change (core.middleware); empty for
    # changes made by tasks and commands, which have no request.
    address = models.GenericIPAddressField(_("source address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        triggers = [
            pgtrigger.Protect(
                name="auditevent_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class Notice(models.Model):
    """A message on the dashboard of every user holding `role` in `unit` (e.g. the county's
    finance staff: their subsidy batch is ready; a village's cadres: an application was sent
    back). Each user reads it (following its link marks it read) and dismisses it for themselves."""

    unit = models.ForeignKey(
        "accounts.OrgUnit", on_delete=models.CASCADE, related_name="+", verbose_name=_("unit")
    )
    role = models.CharField(_("role"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    dismissed_by = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    read_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("read by")
    )

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title


# Runs of the scheduled jobs (issue 14), in a module of their own.
from .models_jobs import JobRun  # noqa: E402, F401
