"""The absolute session lifetime (issue 10, ASVS V6). Inactivity is Django's own: SESSION_COOKIE_AGE
with SESSION_SAVE_EVERY_REQUEST ends a session that sees no request for that long. A session in
constant use would otherwise live for ever, so this ends it SESSION_MAX_LIFETIME after the login."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.utils import timezone
from django.utils.translation import gettext as _

LOGIN_AT = "accounts_login_at"


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
        if SESSION_KEY in session and LOGIN_AT not in session:
            session[LOGIN_AT] = timezone.now().timestamp()
        return response
