"""Pages of the loss claims: the list (with the queues each role works), one claim with its loss
computation, history and the steps this user may take, and filing a claim from a loan. Reads go
through selectors (scoped: anything else is 404), writes through the services via steps.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.pages import run_form_step
from loans import selectors as loan_selectors

from .. import selectors, steps
from ..forms import ClaimFileForm, ClaimFilterForm, ClaimStepForm
from ..services import claims
from ..workflow import STEP_LABELS, State

PAGE_SIZE = 20


@login_required
def claim_list(request):
    filters = ClaimFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    queues = selectors.claim_queues(request.user)
    queue = request.GET.get("queue", "")
    queue = queue if queue in queues else ""
    qs = selectors.claim_list(
        request.user, state=criteria.get("state") or "", queue=queue, trigger=criteria.get("trigger") or ""
    )
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.claim_queue_counts(request.user) if queues else {}
    labels = {
        "review": _("To review"),
        "decide": _("To decide"),
        "pay": _("To pay"),
    }
    context = {
        "filters": filters,
        "page_obj": page_obj,
        "queue": queue,
        "queues": [{"name": name, "label": labels[name], "count": counts.get(name, 0)} for name in queues],
    }
    return render(request, "riskfund/claim_list.html", context)


def _step_forms(claim, user, bound: tuple[str, ClaimStepForm] | None = None) -> list[dict]:
    """The steps this user may take, each with its form: one primary action (the first step that
    moves the claim forward); the steps that reject or withdraw are secondary, each behind a
    confirmation on the page that opens its own reason box (the template's <details>)."""
    forms = []
    primary_taken = False
    for name in steps.available(claim, user):
        step = steps.STEPS[name]
        is_bound = bool(bound and bound[0] == name)
        form = bound[1] if is_bound else ClaimStepForm(fields=steps.fields_for(name, claim), step=name)
        primary = not step.danger and not primary_taken
        primary_taken = primary_taken or primary
        forms.append(
            {
                "name": name,
                "label": STEP_LABELS[name],
                "form": form,
                "danger": step.danger,
                "primary": primary,
                "secondary": step.danger,
                "open": is_bound,
            }
        )
    return forms


def _waiting_for(claim) -> str:
    """Who takes the claim's next step, for a user with none to take."""
    return {
        State.FILED: _("Next: the county office reviews it."),
        State.REVIEWED: _("Next: the fund committee decides it."),
        State.APPROVED: _("Next: finance pays the fund's share."),
    }.get(claim.state, "")


@login_required
def claim_detail(request, pk, bound=None, status=200):
    claim = selectors.claim_get(request.user, pk)
    step_forms = _step_forms(claim, request.user, bound)
    context = {
        "claim": claim,
        "loan": claim.loan,
        "history": selectors.claim_history(claim),
        "steps": step_forms,
        "has_primary": any(s["primary"] for s in step_forms),
        "waiting_for": _waiting_for(claim),
        "fund_percent": claim.fund_ratio * 100,
        "bank_percent": (1 - claim.fund_ratio) * 100,
        "four_eyes_note": (
            claim.state == State.APPROVED and request.user.pk in (claim.decided_by_id, claim.filed_by_id)
        )
        or (claim.state == State.REVIEWED and request.user.pk in (claim.filed_by_id, claim.reviewed_by_id)),
    }
    return render(request, "riskfund/claim_detail.html", context, status=status)


@login_required
@require_POST
def claim_step(request, pk, name):
    claim = selectors.claim_get(request.user, pk)
    step = steps.STEPS.get(name)
    if step is None:
        messages.error(request, _("Unknown step."))
        return HttpResponseRedirect(reverse("riskfund:claim_detail", args=[pk]))
    form = ClaimStepForm(request.POST, fields=steps.fields_for(name, claim), step=name)
    outcome = run_form_step(form, lambda data: steps.take(name, claim=claim, user=request.user, data=data))
    if outcome.ok:
        messages.success(request, str(step.done))
        return HttpResponseRedirect(reverse("riskfund:claim_detail", args=[pk]))
    return claim_detail(request, pk, bound=(name, form), status=outcome.status)


@login_required
def claim_file(request, loan_pk):
    """The trigger dates of a loan, the loss a claim would carry today, and (for a loan officer
    of the loan's bank, once a trigger's day has come) the form to file it."""
    loan = loan_selectors.loan_get(user=request.user, pk=loan_pk)
    outlook = selectors.claim_outlook(loan)
    live = (
        outlook["claim"]
        if outlook["claim"] and outlook["claim"].state not in ("rejected", "withdrawn")
        else None
    )
    may_file = claims.is_filing_officer(request.user, loan)
    open_triggers = [row["trigger"] for row in outlook["triggers"] if row["open"]]
    form = None
    status = 200
    if request.method == "POST":
        if not may_file:
            raise PermissionDenied
        form = ClaimFileForm(
            request.POST, triggers=open_triggers or [r["trigger"] for r in outlook["triggers"]]
        )
        outcome = run_form_step(
            form,
            lambda data: claims.claim_file(
                acting_user=request.user, loan=loan, trigger=data["trigger"], statement=data["statement"]
            ),
            default_field="trigger",
        )
        if outcome.ok:
            messages.success(request, _("The claim was filed; the county office reviews it next."))
            return HttpResponseRedirect(reverse("riskfund:claim_detail", args=[outcome.result.pk]))
        status = outcome.status
    elif may_file and outlook["open"] and live is None:
        form = ClaimFileForm(triggers=open_triggers)
    preview = None
    if outlook["profile"] is not None and live is None:
        preview = selectors.claim_preview(
            loan, outlook["profile"], trigger=open_triggers[0] if open_triggers else ""
        )
    context = {
        "loan": loan,
        "outlook": outlook,
        "live": live,
        "form": form,
        "preview": preview,
        "may_file": may_file,
        "today": timezone.localdate(),
    }
    return render(request, "riskfund/claim_file.html", context, status=status)
