import contextvars
import ipaddress

from django.conf import settings
from django.utils import translation

# The client address of the request being served, for the audit rows it writes (core.audit). A
# context variable rather than a thread-local: it is right under threads and under ASGI alike, and
# work outside a request (Celery tasks, management commands) sees None.
current_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_address", default=None)


def _valid(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request) -> str | None:
    """Where the request came from. Without a trusted proxy (TRUSTED_PROXY_COUNT = 0, the default)
    that is REMOTE_ADDR, and X-Forwarded-For is ignored: anyone can send that header.

    Behind N trusted proxies it is the N-th address from the right of X-Forwarded-For: each proxy
    appends the address it saw, so the entries to the left of our own proxies' are whatever the
    client wrote and prove nothing. (With one proxy that overwrites the header, such as nginx's
    `proxy_set_header X-Forwarded-For $remote_addr`, that is also the first and only entry.)
    A missing or malformed entry falls back to REMOTE_ADDR rather than record a made-up address."""
    remote = _valid(request.META.get("REMOTE_ADDR", ""))
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote
    return _valid(hops[-proxies]) or remote


class AuditAddressMiddleware:
    """Makes the client's address available to core.audit for the length of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_address.set(client_address(request))
        try:
            return self.get_response(request)
        finally:
            current_address.reset(token)


class DefaultLanguageMiddleware:
    """Simplified Chinese unless the user chose another language (the language cookie set by
    Django's set_language view). Unlike LocaleMiddleware, the browser's Accept-Language is
    ignored: a county office's machine may run an English browser, and the pages are Chinese."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        # `override` puts the previous language back afterwards, so one request's choice never
        # leaks into the next piece of work on the same thread.
        with translation.override(language):
            request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
