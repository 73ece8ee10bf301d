from __future__ import annotations

from django.db import models

from .models import AuditEvent


def audit(*, actor, action: str, obj: models.Model, reason: str = "", data: dict | None = None):
    """Record one change. Call inside the service's transaction."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        reason=reason,
        data=data or {},
    )
