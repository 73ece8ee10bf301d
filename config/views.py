"""The project's own pages: the home page gathers a panel from each app, so it lives above them all
(config depends on every app; no app imports config) and `accounts` need not import the apps that
build on it (issue 11, the import contract in pyproject.toml)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.models import Role
from core.selectors import notices_for
from households.selectors import home_summary
from policies.selectors import reference_data_warnings

from .todo import todo_items


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        today = timezone.localdate()
        # What waits for this user first (issue 14): the lines with something to do, then the
        # ones with nothing, named quietly on one line. The menu shows the same counts.
        items = todo_items(self.request)
        ctx["todo"] = [item for item in items if item.count]
        ctx["todo_clear"] = [item for item in items if not item.count]
        ctx["summary"] = home_summary(user=user, today=today)
        ctx["notices"] = list(notices_for(user=user))
        # Reference data only administrators can enter: the holiday calendar and the LPR table.
        ctx["reference_warnings"] = reference_data_warnings(today) if user.has_role(Role.ADMIN) else []
        return ctx
