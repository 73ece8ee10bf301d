"""The finance staff's notice about a batch (issue 14) follows the batch: every transition
(services._take) brings it up to date, so the dashboard says what the batch is now and who acts
next — computed: review it; reviewed: someone else approves it; approved: pay it. While it is
computing again an existing notice says so; once paid or cancelled there is nothing left to do
and the notice goes. The quarterly run's own "being computed" notice (services.
quarterly_batches_ensure) is the same notice, one per batch (core.services.notice_post)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from core.services import notice_post, notice_update, notice_withdraw

from .models import SubsidyBatch
from .workflow import State


def _texts(batch: SubsidyBatch) -> tuple[str, str] | None:
    label = {"label": batch.label}
    if batch.state == State.COMPUTED:
        return (
            _("The interest subsidy batch of %(label)s is computed and awaits review") % label,
            _(
                "%(lines)d lines, %(total)s yuan of subsidy. Review it, have someone other than who "
                "computed it approve it, then pay it and export the lists."
            )
            % {"lines": batch.line_count, "total": f"{batch.total:,.2f}"},
        )
    if batch.state == State.REVIEWED:
        return (
            _("The interest subsidy batch of %(label)s is reviewed and awaits approval") % label,
            _("Someone other than who computed or reviewed it approves it."),
        )
    if batch.state == State.APPROVED:
        return (
            _("The interest subsidy batch of %(label)s is approved and awaits payment") % label,
            _("Pay it, record the payment and export the lists."),
        )
    return None


def batch_state_changed(batch: SubsidyBatch) -> None:
    url = reverse("subsidies:batch_detail", args=[batch.pk])
    if batch.state in (State.PAID, State.CANCELLED):
        notice_withdraw(url=url, role=Role.FINANCE, unit=batch.county)
        return
    # Stored as text in the site's language, whoever's step moved the batch.
    with translation.override(settings.LANGUAGE_CODE):
        if batch.state == State.COMPUTING:
            notice_update(
                url=url,
                role=Role.FINANCE,
                unit=batch.county,
                title=_("The interest subsidy batch of %(label)s is being computed") % {"label": batch.label},
            )
            return
        texts = _texts(batch)
        if texts is not None:
            notice_post(unit=batch.county, role=Role.FINANCE, title=texts[0], body=texts[1], url=url)
