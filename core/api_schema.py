"""The OpenAPI schema tells the truth (issue 10): every operation documents the errors it can
answer, in API.md's one error shape, and a value the data may hold is a value the schema allows.
tests/security/test_api_schema.py holds the schema to this with schemathesis."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The one error shape of API.md."""

    message = serializers.CharField(help_text=_("For people, in the user's language."))
    code = serializers.CharField(
        help_text=_(
            "Stable, for programs: invalid, rule_failed, not_authenticated, permission_denied, "
            "four_eyes, not_found, conflict, transition_not_allowed, throttled, server_error …"
        )
    )
    extra = serializers.DictField(
        help_text=_(
            "Details: `fields` ({field: [messages]}) for invalid input, `rules` ([{rule, message, "
            "source}]) for a broken rule, and whatever else the code documents."
        )
    )

    class Meta:
        ref_name = "Error"


# What each status means in this API (API.md), and when an operation can answer it.
ERRORS = {
    "400": _(
        "Malformed input (`invalid`, with `extra.fields` naming each parameter or field) or a broken "
        "rule (`rule_failed`, with `extra.rules`)."
    ),
    "401": _("Not authenticated (`not_authenticated`): no credentials, or credentials not valid."),
    "403": _("Authenticated, but this role may not do this (`permission_denied`, `four_eyes`)."),
    "404": _("Not found, or outside the user's area (`not_found`): exactly as if it did not exist."),
    "409": _(
        "The object changed meanwhile, or the step is not allowed from its state (`conflict`, "
        "`transition_not_allowed`)."
    ),
    "415": _("The body's content type is not one this operation reads (`unsupported_media_type`)."),
    "429": _("Too many requests (`throttled`); `extra.wait` is the seconds to wait when known."),
}

SAFE = {"GET", "HEAD", "OPTIONS"}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses and blank/null choices."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self._error_codes(operation):
            if code not in responses:
                responses[code] = {
                    "description": str(ERRORS[code]),
                    "content": {"application/json": {"schema": self._error_ref()}},
                }
        return operation

    def _error_ref(self):
        return self.resolve_serializer(ErrorSerializer, "response").ref

    def _error_codes(self, operation) -> list[str]:
        has_input = "requestBody" in operation or any(
            p.get("in") == "query" for p in operation.get("parameters", [])
        )
        anonymous = {} in operation.get("security", [{}])
        codes = []
        if has_input or self.method not in SAFE:
            codes.append("400")
        if not anonymous:
            codes.append("401")
        # 403: a role's refusal, and for a session the CSRF check of every write.
        codes += ["403", "404"]
        if self.method not in SAFE:
            codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        # A ModelSerializer's read-only field drops `allow_blank`/`allow_null`, so a choice the model
        # leaves blank ("" for "none yet": a check not done, a line not excluded) or null would be
        # documented as impossible. Read them back from the model field.
        if isinstance(field, serializers.ChoiceField) and field.read_only:
            model_field = _model_field(field)
            if model_field is not None:
                field.allow_blank = field.allow_blank or model_field.blank
                field.allow_null = field.allow_null or model_field.null
        return super()._map_serializer_field(field, direction, bypass_extensions)


def _model_field(field) -> models.Field | None:
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source or field.source == "*":
        return None
    try:
        return model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return None
