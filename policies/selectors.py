import datetime

from accounts.models import OrgUnit

from .exceptions import PolicyProfileMissing
from .models import PolicyProfile


def profile_for(*, county: OrgUnit, on_date: datetime.date) -> PolicyProfile:
    """The county's profile in force on `on_date`: the latest one effective on or before it."""
    profile = (
        PolicyProfile.objects.filter(county=county, effective_from__lte=on_date)
        .order_by("-effective_from")
        .first()
    )
    if profile is None:
        raise PolicyProfileMissing(county, on_date)
    return profile


def county_of(unit: OrgUnit) -> OrgUnit:
    """The county above a township or village (or the county itself)."""
    while unit.kind != OrgUnit.Kind.COUNTY:
        unit = unit.parent
    return unit
