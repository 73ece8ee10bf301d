from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from policies import selectors as policy_selectors

from . import selectors
from .models import Role


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        today = timezone.localdate()
        ctx["summary"] = selectors.home_summary(user=user, today=today)
        ctx["notices"] = list(selectors.notices_for(user=user))
        # Reference data only administrators can enter: the holiday calendar and the LPR table.
        ctx["reference_warnings"] = (
            policy_selectors.reference_data_warnings(today) if user.has_role(Role.ADMIN) else []
        )
        return ctx


@login_required
@require_POST
def notice_dismiss(request, pk):
    """Hide a dashboard notice for this user only; colleagues still see it."""
    notice = get_object_or_404(selectors.notices_for(user=request.user, limit=None), pk=pk)
    notice.dismissed_by.add(request.user)
    return HttpResponseRedirect(reverse("home"))
