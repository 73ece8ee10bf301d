"""The finance staff's notice about a batch (issue 14): posted when the computation ends, it
replaces the notice about the same batch that said it was being computed (the quarterly run posts
that one, services.quarterly_batches_ensure), so the dashboard says what the batch is now."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from core.services import notice_post

from .models import SubsidyBatch


def batch_computed(batch: SubsidyBatch) -> None:
    # Stored as text in the site's language, whoever's step finished the computation.
    with translation.override(settings.LANGUAGE_CODE):
        notice_post(
            unit=batch.county,
            role=Role.FINANCE,
            title=_("The interest subsidy batch of %(label)s is computed and awaits review")
            % {"label": batch.label},
            body=_(
                "%(lines)d lines, %(total)s yuan of subsidy. Review it, have someone other than who "
                "computed it approve it, then pay it and export the lists."
            )
            % {"lines": batch.line_count, "total": f"{batch.total:,.2f}"},
            url=reverse("subsidies:batch_detail", args=[batch.pk]),
        )
