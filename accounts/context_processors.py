from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.views import AUDIT_LOG_TITLE

from .models import Role


def _loan_items(user) -> list:
    """The loan workflow's pages, each for the roles that work there (DOMAIN §1, §4)."""
    items = []
    if user.has_role(Role.VILLAGE_CADRE):
        items.append((_("My applications"), reverse("loans:application_list")))
    else:
        items.append((_("Loan applications"), reverse("loans:application_list")))
    if user.has_role(Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICE):
        items.append((_("Publicity"), reverse("loans:publicity_board")))
    if user.has_role(Role.LOAN_OFFICER):
        items.append((_("Acceptance"), reverse("loans:acceptance_queue")))
    if user.has_role(Role.APPROVER):
        items.append((_("Approval"), reverse("loans:approval_queue")))
    if user.has_role(Role.LOAN_OFFICER):
        items.append((_("Disbursement"), reverse("loans:disbursement_queue")))
    items.append((_("Loan book"), reverse("loans:book_list")))
    if user.has_role(Role.LOAN_OFFICER, Role.VILLAGE_CADRE):
        items.append((_("Post-loan checks"), reverse("loans:checks_due")))
    return items


def navigation(request):
    """The menu a user sees: only what their roles can use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("Home"), reverse("home"))]
    items.append((_("Households"), reverse("households:list")))
    items.append((_("Blacklist"), reverse("households:blacklist")))
    items += _loan_items(user)
    if user.has_role(Role.FINANCE, Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE, Role.ADMIN):
        items.append((_("Interest subsidies"), reverse("subsidies:batch_list")))
    # One household, one file: batch printing and the completeness report (a household's own file is
    # linked from its page).
    if user.has_role(Role.ADMIN, Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER, Role.LOAN_OFFICER, Role.APPROVER):
        items.append((_("Household files"), reverse("archives:batch_list")))
    if user.has_role(Role.ADMIN):
        items.append((_("Policy profiles"), reverse("policies:profile_list")))
        items.append((_("Interest rates"), reverse("policies:rate_list")))
        items.append((_("Working-day calendar"), reverse("policies:calendar")))
        items.append((AUDIT_LOG_TITLE, reverse("core:audit_log")))
        items.append((_("System administration"), reverse("admin:index")))
    else:
        items.append((_("Policy profiles"), reverse("policies:profile_list")))
    return {"nav_items": items}
