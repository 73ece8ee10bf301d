import datetime

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from .scoping import visible_regions


def home_summary(*, user, today: datetime.date | None = None) -> dict:
    """Counts for the home page, all within the user's scope (two queries)."""
    from households.models import BlacklistEntry, CreditRating, Household
    from households.selectors import household_list

    today = today or timezone.localdate()
    valid_rating = CreditRating.objects.filter(
        household=OuterRef("pk"), valid_from__lte=today, valid_to__gte=today
    ).exclude(grade=CreditRating.Grade.NONE)
    blacklisted = BlacklistEntry.objects.filter(household=OuterRef("pk"), removed_at__isnull=True)
    counts = household_list(user=user).aggregate(
        total=Count("pk"),
        not_exited=Count("pk", filter=Q(poverty_status=Household.PovertyStatus.NOT_EXITED)),
        exited=Count("pk", filter=Q(poverty_status=Household.PovertyStatus.EXITED)),
        monitored=Count("pk", filter=Q(poverty_status__in=Household.MONITORED)),
        rated=Count("pk", filter=Q(Exists(valid_rating))),
        blacklisted=Count("pk", filter=Q(Exists(blacklisted))),
    )
    regions = visible_regions(user).aggregate(
        townships=Count("pk", filter=Q(kind="township")), villages=Count("pk", filter=Q(kind="village"))
    )
    return {**counts, **regions}


def notices_for(*, user, limit: int | None = 10):
    """Dashboard notices addressed to a role the user holds at the user's unit, not dismissed by
    them, newest first."""
    from core.models import Notice

    if user.unit_id is None:
        return Notice.objects.none()
    qs = (
        Notice.objects.filter(unit_id=user.unit_id, role__in=list(user.role_codes))
        .exclude(dismissed_by=user)
        .order_by("-created_at", "-id")
    )
    return qs[:limit] if limit else qs
