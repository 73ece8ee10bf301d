from django.db.models import QuerySet

from accounts.scoping import village_q

from .models import Household


def household_list(*, user) -> QuerySet[Household]:
    """Households the user may see (scoped), ready for lists."""
    return Household.objects.filter(village_q(user, "village")).select_related("village__parent")
