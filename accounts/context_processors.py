from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import Role


def navigation(request):
    """The menu a user sees: only what their roles can use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("Home"), reverse("home"))]
    items.append((_("Households"), reverse("households:list")))
    items.append((_("Blacklist"), reverse("households:blacklist")))
    if user.has_role(Role.ADMIN):
        items.append((_("Policy profiles"), reverse("policies:profile_list")))
        items.append((_("Interest rates"), reverse("policies:rate_list")))
        items.append((_("Working-day calendar"), reverse("policies:calendar")))
        items.append((_("System administration"), reverse("admin:index")))
    else:
        items.append((_("Policy profiles"), reverse("policies:profile_list")))
    return {"nav_items": items}
