import contextvars
import ipaddress
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404, HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import Resolver404, get_urlconf, resolve
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


class FriendlyErrorPagesMiddleware:
    """The project's own Chinese 404, 403 and 500 pages even with DEBUG on (issue 14), when the
    setting FRIENDLY_ERROR_PAGES is true (config.settings.local, the demo). With DEBUG off Django's
    handlers already render these templates and this middleware changes nothing they would not.

    - A page that does not exist (no URL matches, or a view raises Http404) answers 404 with
      templates/404.html instead of Django's English technical page, which lists the URL patterns
      and the lookup that failed ("No Loan matches the given query"): the page tells nothing about
      whether the object exists in somebody else's area.
    - PermissionDenied answers 403 with templates/403.html (Django does that with DEBUG on too).
    - Any other exception from a view is logged with its traceback, as Django logs it, and answers
      500 with templates/500.html, a page that needs neither the database nor a request context.
    - Paths under /api/ keep answering JSON (API.md): DRF answers the API's own errors, unknown
      API paths answer core.api.api_not_found's JSON 404, and an exception that gets this far
      answers core.api.server_error's JSON 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and self._enabled(request)
            and not getattr(response, "friendly_error_page", False)
            and self._unrouted(request)
        ):
            return self._page(request, "404.html", 404)
        return response

    @staticmethod
    def _enabled(request) -> bool:
        return getattr(settings, "FRIENDLY_ERROR_PAGES", False) and not request.path_info.startswith("/api/")

    @staticmethod
    def _unrouted(request) -> bool:
        """No URL pattern takes the path: Django answered its own 404 before any view ran. (A view
        that answers 404 itself, without raising, is left alone: it chose its page.)"""
        try:
            resolve(request.path_info, urlconf=getattr(request, "urlconf", None) or get_urlconf())
        except Resolver404:
            return True
        return False

    def process_exception(self, request, exception):
        if not getattr(settings, "FRIENDLY_ERROR_PAGES", False):
            return None
        if request.path_info.startswith("/api/"):
            if isinstance(exception, Http404 | PermissionDenied):
                return None
            return self._server_error(request, exception, api=True)
        if isinstance(exception, Http404):
            return self._page(request, "404.html", 404)
        if isinstance(exception, PermissionDenied):
            return self._page(request, "403.html", 403)
        return self._server_error(request, exception, api=False)

    @staticmethod
    def _page(request, template: str, status: int):
        try:
            content = loader.render_to_string(template, request=request)
        except Exception:
            # The page with the menu needs the database (the user, the menu's counts); if that is
            # what fails, the page without them rather than a second error.
            logging.getLogger("django.request").exception("The %s page failed to render", status)
            content = loader.render_to_string(template)
        response = HttpResponse(content, status=status)
        response.friendly_error_page = True
        return response

    @staticmethod
    def _server_error(request, exception, *, api: bool):
        """Logged as Django logs an unhandled exception (django.request, with the traceback), and the
        got_request_exception signal sent, so error reporting sees it; then the 500 page."""
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=(type(exception), exception, exception.__traceback__),
            extra={"status_code": 500, "request": request},
        )
        got_request_exception.send(sender=None, request=request)
        if api:
            from .api import server_error  # DRF and the API's glue load only when an API fails

            return server_error(request)
        # As Django's handler500: a plain template without a request context, so the page renders
        # even when the database (sessions, the menu's counts) is what failed.
        return HttpResponseServerError(loader.get_template("500.html").render())
