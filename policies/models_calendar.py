"""The working-day calendar (DOMAIN §4.3): a year is either fully known, day by day, or not known
at all — a date in a missing year is an explicit error wherever working days are counted, never a
Monday-to-Friday guess."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarYear(models.Model):
    """A year whose every day is in `CalendarDay`. A date in a year not listed here has no data."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    source = models.CharField(_("source"), max_length=200)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("loaded by"),
    )

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self):
        return str(self.year)


class CalendarDay(models.Model):
    """One day of a covered year: a working day or not, with the holiday's name where there is one.
    Weekends that are adjusted working days (调休) are working days here."""

    date = models.DateField(_("date"), primary_key=True)
    year = models.ForeignKey(
        CalendarYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("year")
    )
    is_working_day = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        indexes = [models.Index(fields=["is_working_day", "date"])]

    def __str__(self):
        return f"{self.date} {'working' if self.is_working_day else 'rest'}"
