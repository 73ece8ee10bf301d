from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.api import error_body
from core.selectors import notice_for
from core.services import notice_dismiss as dismiss
from core.services import notice_read

from . import services
from .apis import LockedOut


@login_required
@require_POST
def notice_dismiss(request, pk):
    """Hide a dashboard notice for this user only; colleagues still see it."""
    dismiss(acting_user=request.user, notice=notice_for(user=request.user, pk=pk))
    return HttpResponseRedirect(reverse("home"))


@login_required
def notice_open(request, pk):
    """Follow a notice's link: it is marked read for this user, then the page it names opens.
    Only a page of this site (a path such as /loans/12/): anything else leads home."""
    notice = notice_for(user=request.user, pk=pk)
    notice_read(acting_user=request.user, notice=notice)
    url = notice.url
    internal = (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )
    return HttpResponseRedirect(url if internal else reverse("home"))


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
