from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from core.api import error_body
from policies import selectors as policy_selectors

from . import selectors, services
from .apis import LockedOut
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


def lockout_response(request, original_response=None, credentials=None):
    """What django-axes answers once an account or address is locked (AXES_LOCKOUT_CALLABLE):
    the login page, the admin's login and any API path alike, with the cool-off time."""
    locked = LockedOut()
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(locked.message, locked.code, locked.extra), status=locked.status_code)
    context = {"message": locked.message, "cooloff_minutes": locked.extra["cooloff_minutes"]}
    return render(request, "accounts/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


class LogoutView(auth_views.LogoutView):
    """Logging out of the pages also ends the user's API tokens: the shared office PC may have
    been used to fetch one."""

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            services.user_tokens_revoke(user=request.user)
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    """The user's own password, behind the password rules. This session stays; other sessions
    and every API token end."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        user = services.user_password_change(
            acting_user=self.request.user, user=form.user, password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password has been changed."))
        return HttpResponseRedirect(self.get_success_url())
