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
