from django.db.models import Count, Q

from .scoping import visible_regions


def home_summary(*, user) -> dict:
    """Counts for the home page, all within the user's scope."""
    from households.selectors import household_list

    households = household_list(user=user)
    counts = households.aggregate(
        total=Count("pk"),
        not_exited=Count("pk", filter=Q(poverty_status="not_exited")),
        exited=Count("pk", filter=Q(poverty_status="exited")),
    )
    regions = visible_regions(user).aggregate(
        townships=Count("pk", filter=Q(kind="township")), villages=Count("pk", filter=Q(kind="village"))
    )
    return {**counts, **regions}
