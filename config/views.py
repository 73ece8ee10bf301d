"""The project's own pages: the home page gathers a panel from each app, so it lives above them all
(config depends on every app; no app imports config) and `accounts` need not import the apps that
build on it (issue 11, the import contract in pyproject.toml)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from accounts.models import Role
from core.selectors import notices_for
from core.todo import TodoItem
from households.selectors import home_summary
from policies.selectors import reference_data_warnings

from .todo import todo_items


def reference_todo(warning) -> TodoItem:
    """A reference-data warning as a to-do line: one thing to enter, linked to where it is entered."""
    tone = "bad" if warning.severity == "bad" else "warn"
    if warning.code == "lpr_stale":
        url = reverse("policies:rate_list") + "#rate-form"
        return TodoItem(warning.code, _("Enter the latest LPR publications"), 1, url, tone=tone)
    url = reverse("policies:calendar") + "#import-year"
    label = _("Import or enter the %(year)s working-day calendar") % {"year": warning.year}
    return TodoItem(warning.code, label, 1, url, tone=tone)


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        today = timezone.localdate()
        # What waits for this user first (issue 14): the lines with something to do, then the
        # ones with nothing, named quietly on one line. The menu shows the same counts.
        items = todo_items(self.request)
        # Reference data only administrators can enter: the holiday calendar and the LPR table.
        # Each warning is also one of the administrator's to-do lines (issue 14), first.
        warnings = reference_data_warnings(today) if user.has_role(Role.ADMIN) else []
        ctx["reference_warnings"] = warnings
        ctx["todo"] = [reference_todo(w) for w in warnings] + [item for item in items if item.count]
        ctx["todo_clear"] = [item for item in items if not item.count]
        ctx["summary"] = home_summary(user=user, today=today)
        ctx["notices"] = list(notices_for(user=user))
        return ctx
