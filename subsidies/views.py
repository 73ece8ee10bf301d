"""Pages of the subsidy batches: the list (with a new batch for the county's finance staff), one
batch with its progress, steps, totals and exclusions, and its lines. Reads go through
selectors (scoped), writes through the services via steps.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import OrgUnit
from core.exceptions import ApplicationError

from . import exports, selectors, services, steps
from .forms import BatchCreateForm, BatchFilterForm, LineFilterForm, StepForm
from .models import WAITING_REASONS, SubsidyBatch
from .workflow import STEP_LABELS, State, is_county_finance

PAGE_SIZE = 20
LINE_PAGE_SIZE = 50
# Steps drawn as a red button: they end something.
DANGER_STEPS = {"cancel", "send_back"}
# The step that moves the batch on, in the order the batch meets them: the page's one primary
# button. The others (recompute, send back, cancel) are quieter and open their form on demand.
FORWARD_STEPS = ("resume", "review", "approve", "pay")


def _can_create(user) -> bool:
    return (
        user.unit_id is not None
        and user.unit.kind == OrgUnit.Kind.COUNTY
        and is_county_finance(user, user.unit_id)
    )


@login_required
def batch_list(request, create_form=None):
    filters = BatchFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    qs = selectors.batch_list(
        user=request.user, year=criteria.get("year") or None, state=criteria.get("state") or ""
    )
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    can_create = _can_create(request.user)
    # Below the county, each batch's figures are those of the user's area, like its page's header.
    area = selectors.area_totals(user=request.user, batches=page_obj.object_list)
    context = {
        "filters": filters,
        "page_obj": page_obj,
        "rows": [{"batch": b, "area": area.get(b.pk)} for b in page_obj.object_list],
        "area": request.user.unit if area else None,
        "can_create": can_create,
        "create_form": create_form or (BatchCreateForm(county=request.user.unit) if can_create else None),
    }
    return render(request, "subsidies/batch_list.html", context, status=400 if create_form else 200)


@login_required
@require_POST
def batch_create(request):
    if not _can_create(request.user):
        messages.error(request, _("Only the finance staff of the county may create its subsidy batches."))
        return HttpResponseRedirect(reverse("subsidies:batch_list"))
    form = BatchCreateForm(request.POST)
    if form.is_valid():
        try:
            batch = services.batch_create(
                acting_user=request.user,
                county=request.user.unit,
                year=form.cleaned_data["year"],
                quarter=form.cleaned_data["quarter"],
            )
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error.message))
        else:
            messages.success(
                request,
                _("The batch of %(label)s was created. Compute it when ready.") % {"label": batch.label},
            )
            return HttpResponseRedirect(reverse("subsidies:batch_detail", args=[batch.pk]))
    return batch_list(request, create_form=form)


def _step_forms(batch: SubsidyBatch, user, bound: tuple[str, StepForm] | None = None) -> list[dict]:
    forms = []
    names = steps.available(batch, user)
    forward = next((n for n in FORWARD_STEPS if n in names), None)
    if forward is None and "compute" in names and batch.state != State.COMPUTED:
        forward = "compute"
    for name in names:
        step = steps.STEPS[name]
        form = bound[1] if bound and bound[0] == name else StepForm(fields=step.fields, step=name)
        forms.append(
            {
                "name": name,
                "label": _("Recompute")
                if name == "compute" and batch.state == State.COMPUTED
                else STEP_LABELS[name],
                "form": form,
                "confirm": step.confirm,
                "danger": name in DANGER_STEPS,
                "primary": name == forward,
                "open": bool(bound and bound[0] == name),
            }
        )
    # The primary step first: on a phone it is the first thing under the figures.
    return sorted(forms, key=lambda f: not f["primary"])


def _export_info(batch: SubsidyBatch) -> dict:
    """What the batch page says about exports; the payment file exists from approval on. Loans
    without an account are named from computation on: review is refused until they have one."""
    payable = batch.state in exports.PAYABLE_STATES
    computed = batch.state not in (State.DRAFT, State.COMPUTING, State.CANCELLED)
    return {"missing_accounts": exports.missing_accounts(batch) if computed else 0, "payable": payable}


@login_required
def batch_detail(request, pk, bound=None, status=200):
    batch = selectors.batch_get(user=request.user, pk=pk)
    lines = selectors.line_list(user=request.user, batch=batch)
    villages = selectors.village_totals(lines)
    context = {
        "batch": batch,
        "header": selectors.header_totals(user=request.user, batch=batch, village_rows=villages),
        "steps": _step_forms(batch, request.user, bound),
        "villages": villages,
        "townships": selectors.township_totals(villages),
        "reasons": selectors.reason_totals(lines),
        "percent": batch.progress_percent,
        "exports": _export_info(batch),
        "is_finance": batch.is_county_finance(request.user),
        "four_eyes_note": batch.state == State.REVIEWED and batch.computed_by_id == request.user.pk,
    }
    return render(request, "subsidies/batch_detail.html", context, status=status)


@login_required
def batch_progress(request, pk):
    """Polled by the batch page while it computes."""
    batch = selectors.batch_get(user=request.user, pk=pk)
    return JsonResponse(
        {
            "state": batch.state,
            "state_display": batch.get_state_display(),
            "done": batch.progress_done,
            "total": batch.progress_total,
            "percent": batch.progress_percent,
        }
    )


@login_required
@require_POST
def batch_step(request, pk, name):
    batch = selectors.batch_get(user=request.user, pk=pk)
    step = steps.STEPS.get(name)
    if step is None:
        messages.error(request, _("Unknown step."))
        return HttpResponseRedirect(reverse("subsidies:batch_detail", args=[pk]))
    form = StepForm(request.POST, fields=step.fields, step=name)
    if form.is_valid():
        try:
            steps.take(name, batch=batch, user=request.user, data=form.cleaned_data)
        except ApplicationError as error:
            if error.field in form.fields:
                form.add_error(error.field, str(error.message))
            else:
                messages.error(request, str(error.message))
                return HttpResponseRedirect(reverse("subsidies:batch_detail", args=[pk]))
        else:
            messages.success(request, _("Done: %(step)s.") % {"step": STEP_LABELS[name]})
            return HttpResponseRedirect(reverse("subsidies:batch_detail", args=[pk]))
    return batch_detail(request, pk, bound=(name, form), status=400)


@login_required
def batch_lines(request, pk):
    batch = selectors.batch_get(user=request.user, pk=pk)
    filters = LineFilterForm(request.GET or None, user=request.user, county=batch.county)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    lines = selectors.line_filter(
        selectors.line_list(user=request.user, batch=batch),
        village=criteria.get("village"),
        township=criteria.get("township"),
        reason=criteria.get("reason") or "",
        q=criteria.get("q") or "",
    )
    qs = selectors.lines_in_order(lines, by_township=True)
    page_obj = Paginator(qs, LINE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "batch": batch,
        "filters": filters,
        "page_obj": page_obj,
        "filtered": bool(criteria and any(criteria.values())),
        "waiting": {reason.value for reason in WAITING_REASONS},
    }
    return render(request, "subsidies/batch_lines.html", context)
