"""`{% recovery_section claim %}`: a paid claim's recoveries, and the form to record one for a loan
officer of the claim's bank, for the claim's page (templates/riskfund/recovery_section.html)."""

from django import template
from django.utils import timezone

from .. import selectors
from ..services.recoveries import is_claim_bank_officer, recovered_total
from ..views.recoveries import RecoveryForm, with_days_late
from ..workflow import State

register = template.Library()


@register.inclusion_tag("riskfund/recovery_section.html", takes_context=True)
def recovery_section(context, claim):
    request = context.get("request")
    user = getattr(request, "user", None)
    paid = claim.state == State.PAID
    can_record = paid and user is not None and is_claim_bank_officer(user, claim)
    return {
        "claim": claim,
        "paid": paid,
        "recoveries": with_days_late(selectors.claim_recoveries(claim), timezone.localdate()) if paid else [],
        "recovered": recovered_total(claim) if paid else None,
        "recovery_form": RecoveryForm(initial={"received_on": timezone.localdate()}) if can_record else None,
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
