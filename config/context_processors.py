"""The menu (issue 14: moved up from accounts so that it may show counts from every app's to-do
list; config depends on all apps). `nav_items` is a list of NavItem: a label, a link, a count
(None: no badge) and a group (items of one group sit together under the group's name). The counts
are the home page's to-do counts (config/todo.py), computed once per request for both."""

from typing import NamedTuple

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from core.views import AUDIT_LOG_TITLE

from .todo import menu_counts


class NavItem(NamedTuple):
    label: str
    href: str
    count: int | None = None
    group: str = ""


def _loan_items(user) -> list:
    """The loan workflow's pages, each for the roles that work there (DOMAIN §1, §4)."""
    items = []
    if user.has_role(Role.VILLAGE_CADRE):
        items.append(NavItem(_("My applications"), reverse("loans:application_list")))
    else:
        items.append(NavItem(_("Loan applications"), reverse("loans:application_list")))
    if user.has_role(Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICE):
        items.append(NavItem(_("Publicity"), reverse("loans:publicity_board")))
    if user.has_role(Role.LOAN_OFFICER):
        items.append(NavItem(_("Acceptance"), reverse("loans:acceptance_queue")))
    if user.has_role(Role.APPROVER):
        items.append(NavItem(_("Approval"), reverse("loans:approval_queue")))
        items.append(NavItem(_("Extensions"), reverse("loans:change_extension_queue")))
    if user.has_role(Role.LOAN_OFFICER):
        items.append(NavItem(_("Disbursement"), reverse("loans:disbursement_queue")))
    items.append(NavItem(_("Loan book"), reverse("loans:book_list")))
    if user.has_role(Role.LOAN_OFFICER):
        items.append(NavItem(_("Overdue loans"), reverse("loans:overdue_list")))
    if user.has_role(Role.LOAN_OFFICER, Role.VILLAGE_CADRE):
        items.append(NavItem(_("Post-loan checks"), reverse("loans:checks_due")))
    return items


def navigation(request):
    """The menu a user sees: only what their roles can use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_waiting": 0}
    items = [NavItem(_("Home"), reverse("home"))]
    items.append(NavItem(_("Households"), reverse("households:list")))
    items.append(NavItem(_("Blacklist"), reverse("households:blacklist")))
    items += _loan_items(user)
    if user.has_role(Role.FINANCE, Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE, Role.ADMIN):
        items.append(NavItem(_("Interest subsidies"), reverse("subsidies:batch_list")))
    # One household, one file: batch printing and the completeness report (a household's own file is
    # linked from its page).
    if user.has_role(Role.ADMIN, Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER, Role.LOAN_OFFICER, Role.APPROVER):
        items.append(NavItem(_("Household files"), reverse("archives:batch_list")))
    if user.has_role(
        Role.FINANCE, Role.COUNTY_OFFICE, Role.FUND_COMMITTEE, Role.LOAN_OFFICER, Role.APPROVER, Role.ADMIN
    ):
        fund = _("Risk-compensation fund")
        items.append(NavItem(_("Fund accounts"), reverse("riskfund:fund_list"), group=fund))
        items.append(NavItem(_("Compensation claims"), reverse("riskfund:claim_list"), group=fund))
        items.append(NavItem(_("Recoveries"), reverse("riskfund:recovery_list"), group=fund))
    if user.has_role(Role.ADMIN):
        items.append(NavItem(_("Policy profiles"), reverse("policies:profile_list")))
        items.append(NavItem(_("Interest rates"), reverse("policies:rate_list")))
        items.append(NavItem(_("Working-day calendar"), reverse("policies:calendar")))
        items.append(NavItem(AUDIT_LOG_TITLE, reverse("core:audit_log")))
        items.append(NavItem(_("Run today's scheduled jobs"), reverse("daily_jobs")))
        items.append(NavItem(_("System administration"), reverse("admin:index")))
    else:
        items.append(NavItem(_("Policy profiles"), reverse("policies:profile_list")))
    # The to-do counts as badges on the entries whose lists hold the items (none when zero).
    counts = menu_counts(request)
    items = [item._replace(count=counts[item.href]) if counts.get(item.href) else item for item in items]
    # On a phone the menu is folded: its button shows how many items wait in all (issue 14).
    return {"nav_items": items, "nav_waiting": sum(item.count or 0 for item in items)}
