"""API glue shared by every app: the error shape of API.md and the paginator."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition
from django_fsm import TransitionNotAllowed as FSMTransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import ApplicationError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


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


def exception_handler(exc, context):
    """Every error answers `{"message", "code", "extra"}` (API.md)."""
    if isinstance(exc, ApplicationError):
        extra = exc.extra
        if exc.code == "invalid" and exc.field and "fields" not in extra:
            # A service's input error names its field; clients read it where every 400 puts it.
            extra = {**extra, "fields": {exc.field: [str(exc.message)]}}
        return Response(error_body(exc.message, exc.code, extra), status=exc.status_code)
    # django-fsm's own refusals, should a transition be taken outside the services' checks: the
    # row changed under the save (ConcurrentTransitionMixin) or the state no longer allows it.
    if isinstance(exc, ConcurrentTransition):
        return Response(
            error_body(_("Someone else changed this record meanwhile; reload it and try again."), "conflict"),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, FSMTransitionNotAllowed):
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
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(_("The input is not valid."), "invalid", {"fields": _flatten(detail)})
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response.data = error_body(exc.detail, "not_authenticated")
    elif isinstance(exc, exceptions.PermissionDenied):
        response.data = error_body(exc.detail, "permission_denied")
    elif isinstance(exc, exceptions.NotFound):
        response.data = error_body(_("Not found."), "not_found")
    else:
        response.data = error_body(getattr(exc, "detail", str(exc)), getattr(exc, "default_code", "error"))
    return response
