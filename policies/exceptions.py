from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError


class PolicyProfileMissing(ApplicationError):
    def __init__(self, county, on_date):
        super().__init__(
            _("%(county)s has no policy profile in force on %(date)s; an administrator must add one.")
            % {"county": county, "date": on_date},
            "policy_missing",
            {"county": getattr(county, "pk", None), "date": str(on_date)},
        )


class CalendarMissing(ApplicationError):
    """A date was needed in a year whose holidays and adjusted working days nobody has entered.
    Counting with weekends only would silently move deadlines, so this is an error (DOMAIN §4.3)."""

    def __init__(self, year: int):
        super().__init__(
            _(
                "The holiday arrangements for %(year)s have not been entered yet, so working days in "
                "%(year)s cannot be counted. An administrator must add %(year)s in the working-day calendar "
                "(the State Council publishes each year's arrangements in November)."
            )
            % {"year": year},
            "calendar_missing",
            {"year": year},
        )
        self.year = year


class RateMissing(ApplicationError):
    def __init__(self, *, kind: str, tenor: str, on_date):
        super().__init__(
            _(
                "No %(kind)s (%(tenor)s) is recorded in force on %(date)s; an administrator must add it "
                "to the interest-rate table."
            )
            % {"kind": kind.label, "tenor": tenor.label, "date": on_date},
            "rate_missing",
            {"kind": kind.value, "tenor": tenor.value, "date": str(on_date)},
        )
