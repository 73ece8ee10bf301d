"""API glue shared by every app: the error shape of API.md, the paginator, the filters of the
lists, and the JSON answers for unknown API paths and unhandled errors."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django_fsm import ConcurrentTransition
from django_fsm import TransitionNotAllowed as FSMTransitionNotAllowed
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .exceptions import ApplicationError

# ---------------------------------------------------------------------------------------------
# Filters and pages: every list reads its query parameters through a serializer, so a bad value
# answers 400 `invalid` naming the parameter, never a 500 from the database and never a silently
# ignored filter; the same serializer documents the parameters in the schema
# (`extend_schema(parameters=[TheFilter])`).
# ---------------------------------------------------------------------------------------------

# Primary keys are bigint (DEFAULT_AUTO_FIELD): a larger number is not an id on any database.
MAX_ID = 2**63 - 1


class IdFilter(serializers.IntegerField):
    """An object's id in a filter: a whole number from 1 to the largest bigint."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class FilterSerializer(serializers.Serializer):
    """The query parameters a list accepts. Subclasses declare one field per filter; an empty value
    (`?state=`) means no filter, an unknown or malformed one is refused."""


def parse_filters(serializer_class: type[FilterSerializer], request) -> dict:
    """The list's validated filters; 400 `invalid` with `extra.fields.<parameter>` otherwise."""
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return filters.validated_data


class PageParams(FilterSerializer):
    page = serializers.CharField(required=False, allow_blank=True)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate_page(self, value: str) -> str:
        if value in ("", "last"):
            return value
        if not (re.fullmatch(r"[0-9]{1,19}", value) and 1 <= int(value) <= MAX_ID):
            raise serializers.ValidationError(_("Enter a page number from 1, or last."))
        return value


class Pagination(PageNumberPagination):
    """`?page=` (from 1, or `last`) and `?page_size=` (from 1; more than 500 is served as 500).
    A malformed value is a 400 naming it; a page past the end is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        parse_filters(PageParams, request)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": str(_("A page number from 1, or last.")),
                "schema": {
                    "oneOf": [
                        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                        {"type": "string", "enum": ["last"]},
                    ]
                },
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Results per page, 50 when omitted; more than 500 is served as 500.")),
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            },
        ]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def _flatten(detail):
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(x, dict | list) for x in detail):
            return [str(x) for x in detail]
        return [_flatten(x) for x in detail]
    return [str(detail)]


def error_body(message, code: str, extra: dict | None = None) -> dict:
    return {"message": str(message), "code": code, "extra": extra or {}}


def _readable(detail, fallback) -> str:
    """A library's message when it is in the user's language, else ours. DRF translates its own
    messages, but some reach us in English whatever the language (the CSRF refusal, a JSON
    parser's complaint, a third-party authenticator's text): API.md promises a Chinese message."""
    text = str(detail) if detail else ""
    if text and not (translation.get_language() or "").startswith("zh"):
        return text
    if text and re.search(r"[\u4e00-\u9fff]", text):
        return text
    return str(fallback)


def exception_handler(exc, context):
    """Every error answers `{"message", "code", "extra"}` (API.md), with a message in the user's
    language; an exception no rule expected is logged and answers 500 `server_error`."""
    if isinstance(exc, ApplicationError):
        extra = exc.extra
        if exc.code == "invalid" and exc.field and "fields" not in extra:
            # A service's input error names its field; clients read it where every 400 puts it.
            extra = {**extra, "fields": {exc.field: [str(exc.message)]}}
        set_rollback()
        return Response(error_body(exc.message, exc.code, extra), status=exc.status_code)
    # django-fsm's own refusals, should a transition be taken outside the services' checks: the
    # row changed under the save (ConcurrentTransitionMixin) or the state no longer allows it.
    if isinstance(exc, ConcurrentTransition):
        set_rollback()
        return Response(
            error_body(_("Someone else changed this record meanwhile; reload it and try again."), "conflict"),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, FSMTransitionNotAllowed):
        set_rollback()
        return Response(
            error_body(
                _("This step is not allowed in the record's current state."), "transition_not_allowed"
            ),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    response.data = _error_data(exc, context)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # Session authentication comes first, so DRF would answer 403; API.md says 401, which
        # names the scheme a client can use.
        response.status_code = status.HTTP_401_UNAUTHORIZED
        if "WWW-Authenticate" not in response:
            response["WWW-Authenticate"] = "Token"
    return response


def _error_data(exc, context) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_body(_("The input is not valid."), "invalid", {"fields": _flatten(detail)})
    if isinstance(exc, exceptions.ParseError):
        # The parser's own text is English and quotes Python's decoder ("Expecting value: line 1
        # column 1"); the client learns the body could not be read, in the one 400 shape.
        message = _("The request body could not be read: it is not valid JSON or form data.")
        return error_body(
            _("The input is not valid."), "invalid", {"fields": {"non_field_errors": [message]}}
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        return error_body(
            _readable(exc.detail, _("Sign in first: the request carries no credentials.")),
            "not_authenticated",
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return error_body(
            _readable(exc.detail, _("The credentials are not valid or have expired.")), "not_authenticated"
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return error_body(
            _readable(exc.detail, _("You do not have permission to do this.")), "permission_denied"
        )
    if isinstance(exc, exceptions.NotFound):
        return error_body(_("Not found."), "not_found")
    if isinstance(exc, exceptions.MethodNotAllowed):
        request, view = context.get("request"), context.get("view")
        return error_body(
            _("This address does not take %(method)s requests.") % {"method": getattr(request, "method", "")},
            "method_not_allowed",
            {"allowed": list(getattr(view, "allowed_methods", []))},
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return error_body(
            _("This content type is not accepted here; send JSON (or a form where a file is uploaded)."),
            "unsupported_media_type",
        )
    if isinstance(exc, exceptions.NotAcceptable):
        return error_body(_("This address answers in JSON only."), "not_acceptable")
    if isinstance(exc, exceptions.Throttled):
        extra = {"wait": exc.wait} if exc.wait is not None else {}
        return error_body(_("Too many requests; try again later."), "throttled", extra)
    return error_body(
        _readable(getattr(exc, "detail", ""), _("The request could not be handled.")),
        getattr(exc, "default_code", "error"),
    )


def _server_error(exc, context) -> Response:
    """An exception no rule expected: a bug. It is logged with its traceback where Django logs
    its own 500s (`django.request`, which mails the admins in production), the request's
    transaction is rolled back, and the client gets the error shape instead of an HTML page."""
    set_rollback()
    response = Response(
        error_body(_("Something went wrong on our side; the error has been logged."), "server_error"),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    request = context.get("request")
    log_response(
        "Internal Server Error: %s",
        getattr(request, "path", ""),
        response=response,
        request=getattr(request, "_request", request),
        exception=exc,
    )
    # Django's test client re-raises what this signal reports, so a test sees the real traceback;
    # error reporters listen to it too.
    from django.core.signals import got_request_exception

    got_request_exception.send(sender=None, request=getattr(request, "_request", request))
    return response


# ---------------------------------------------------------------------------------------------
# Outside the views: unknown API paths and errors Django's handler catches
# ---------------------------------------------------------------------------------------------


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any path under /api/ that no route takes: the JSON 404 of API.md, never the HTML page.
    A GET without the trailing slash of a real route is redirected as Django would
    (APPEND_SLASH); other methods are told the right address, since a redirect loses the body.
    Exempt from the CSRF check: it changes nothing, and a write to a wrong address should learn
    that, not read an HTML CSRF page."""
    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            target = request.path + "/"
            if request.method in ("GET", "HEAD"):
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(target + ("?" + query if query else ""))
            return JsonResponse(
                error_body(
                    _("Not found. This address ends with a slash: %(path)s") % {"path": target},
                    "not_found",
                    {"path": target},
                ),
                status=404,
            )
    return JsonResponse(error_body(_("Not found."), "not_found"), status=404)


def server_error(request, *args, **kwargs):
    """Django's handler500: the error shape for API paths (an error outside a view, in a
    middleware or while rendering), the HTML page everywhere else."""
    if request.path_info.startswith("/api/"):
        body = error_body(_("Something went wrong on our side; the error has been logged."), "server_error")
        return JsonResponse(body, status=500)
    return defaults.server_error(request, *args, **kwargs)
