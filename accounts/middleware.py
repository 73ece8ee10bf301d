"""Session lifetimes (issue 10, ASVS V6). Inactivity: a session's expiry is SESSION_COOKIE_AGE after
it was last saved, and this middleware saves it again when a request comes more than
SESSION_REFRESH_AFTER after the last save. That is Django's SESSION_SAVE_EVERY_REQUEST without a
database write on every page (a session idle for SESSION_COOKIE_AGE ends, give or take that minute).
A session in constant use would otherwise live for ever, so this also ends it SESSION_MAX_LIFETIME
after the login."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.utils import timezone
from django.utils.translation import gettext as _

LOGIN_AT = "accounts_login_at"
SAVED_AT = "accounts_saved_at"


def stamp_login(sender, request, user, **kwargs):
    """On every login (page, admin, the tests' force_login): start both clocks now, so the next
    request needs no session write of its own."""
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[LOGIN_AT] = now
        request.session[SAVED_AT] = now


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        login_at = session.get(LOGIN_AT)
        if SESSION_KEY in session and login_at is not None:
            if timezone.now().timestamp() - login_at > settings.SESSION_MAX_LIFETIME.total_seconds():
                # Checked on the server, whatever the browser does with the cookie.
                logout(request)
                messages.info(request, _("You have been logged in for a working day; please log in again."))
        response = self.get_response(request)
        # Stamp the login time on the request that logged in (and on sessions older than this
        # rule). Only a logged-in session: an API call with a token has no session to stamp.
        now = timezone.now().timestamp()
        if SESSION_KEY in session and LOGIN_AT not in session:
            session[LOGIN_AT] = now
        # Slide the inactivity expiry forward; writing the stamp marks the session modified, so
        # SessionMiddleware saves it with a fresh expiry and sends the cookie again.
        if (
            SESSION_KEY in session
            and now - session.get(SAVED_AT, 0) > settings.SESSION_REFRESH_AFTER.total_seconds()
        ):
            session[SAVED_AT] = now
        return response
