"""The bank's pages for applications: the acceptance, approval and disbursement queues, and the
forms that take those steps (with the investigation photos, the indicative rate and the
contract's rate)."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core.exceptions import ApplicationError
from core.pages import NOT_POSTED, run_form_step
from policies.models import Rate
from policies.selectors import contract_rate_for, county_of, profile_for, rate_kind_for

from .. import selectors
from ..forms import (
    AcceptanceForm,
    ApprovalForm,
    DisbursementForm,
)
from ..services import applications
from ..workflow import State
from .application_parts import (
    application_report,
    four_eyes,
    page_of,
    place_rule_error,
    require,
    step_gate,
    steps_for,
    summary_context,
    to_int,
)


def _bank_queue(request, *, role: str, state: str, template: str, title_extra=None):
    user = request.user
    require(user.has_role(role) and user.unit_id is not None)
    page = page_of(request, selectors.bank_queue(user=user, role=role, state=state))
    rows = []
    for app in page.object_list:
        available = selectors.available_transitions(application=app, user=user)
        rows.append({"app": app, "available": available, "four_eyes": four_eyes(app, user)})
    return render(request, template, {"page_obj": page, "rows": rows})


@login_required
def acceptance_queue(request):
    return _bank_queue(
        request, role=Role.LOAN_OFFICER, state=State.BANK_ACCEPTANCE, template="loans/acceptance_queue.html"
    )


@login_required
def approval_queue(request):
    return _bank_queue(
        request, role=Role.APPROVER, state=State.BANK_APPROVAL, template="loans/approval_queue.html"
    )


@login_required
def disbursement_queue(request):
    return _bank_queue(
        request, role=Role.LOAN_OFFICER, state=State.APPROVED, template="loans/disbursement_queue.html"
    )


# ---------------------------------------------------------------------------------------------
# The bank's forms
# ---------------------------------------------------------------------------------------------


@login_required
def application_accept(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = step_gate(request, app, "accept")
    if gate is not None:
        return gate
    form = AcceptanceForm(request.POST or None, request.FILES or None)

    def accept(data):
        # The photos and the acceptance stand or fall together.
        with transaction.atomic():
            for image in data["photos"]:
                applications.investigation_photo_add(
                    acting_user=request.user, application=app, image=image, caption=data["caption"]
                )
            return applications.application_accept(
                acting_user=request.user,
                application=app,
                findings=data["findings"],
                investigated_on=data["investigated_on"],
                comment=data["comment"],
            )

    outcome = run_form_step(form, accept, place=place_rule_error) if request.method == "POST" else NOT_POSTED
    if outcome.ok:
        messages.success(request, _("Accepted; the application now waits for review and approval."))
        return redirect("loans:application_detail", pk=app.pk)
    return render(
        request,
        "loans/accept_form.html",
        {
            **summary_context(request, app),
            "form": form,
            "rule_errors": outcome.leftover,
            "report": application_report(app),
            "photos": app.photos.all(),
            "steps": [s for s in steps_for(request, app) if s["name"] != "accept"],
        },
        status=outcome.status,
    )


def _rate_buckets(app, today) -> dict:
    """The indicative rate, by term: what a contract signed today would take (DOMAIN §5). The
    loan's rate is fixed at disbursement, on the contract date. The page picks the bucket for the
    term typed."""
    try:
        profile = profile_for(county=county_of(app.household.village), on_date=today)
        kind = rate_kind_for(basis=profile.rate_basis, contract_date=today)
    except ApplicationError as e:
        return {"error": e.message, "buckets": []}
    buckets = []
    for longest in (12, 60, None):
        try:
            rate = contract_rate_for(basis=profile.rate_basis, term_months=longest or 61, contract_date=today)
        except ApplicationError as e:
            buckets.append({"max": longest, "error": str(e.message)})
        else:
            buckets.append(
                {
                    "max": longest,
                    "rate": f"{rate.annual_rate:.2f}",
                    "tenor": str(rate.get_tenor_display()),
                    "since": rate.effective_from.isoformat(),
                }
            )
    return {"basis": str(Rate.Kind(kind).label), "buckets": buckets}


def _bucket_for(buckets: list[dict], term) -> dict | None:
    if not term:
        return None
    for bucket in buckets:
        if bucket["max"] is None or term <= bucket["max"]:
            return bucket
    return None


@login_required
def application_approve(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = step_gate(request, app, "approve")
    if gate is not None:
        return gate
    form = ApprovalForm(request.POST or None, application=app)

    def approve(data):
        return applications.application_approve(
            acting_user=request.user,
            application=app,
            amount=data["amount"],
            term_months=data["term_months"],
            comment=data["comment"],
        )

    outcome = run_form_step(form, approve, place=place_rule_error) if request.method == "POST" else NOT_POSTED
    if outcome.ok:
        messages.success(request, _("Approved; the loan officer can now disburse it."))
        return redirect("loans:application_detail", pk=app.pk)
    rates = _rate_buckets(app, timezone.localdate())
    term = to_int(form.data.get("term_months")) if form.is_bound else app.term_months
    return render(
        request,
        "loans/approve_form.html",
        {
            **summary_context(request, app),
            "form": form,
            "rule_errors": outcome.leftover,
            "rates": rates,
            "rate_now": _bucket_for(rates["buckets"], term),
            "report": application_report(app),
            "photos": app.photos.all(),
            "steps": [s for s in steps_for(request, app) if s["name"] != "approve"],
        },
        status=outcome.status,
    )


@login_required
def application_disburse(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = step_gate(request, app, "disburse")
    if gate is not None:
        return gate
    form = DisbursementForm(request.POST or None, application=app)

    def disburse(data):
        return applications.application_disburse(
            acting_user=request.user,
            application=app,
            contract_no=data["contract_no"],
            receipt_no=data["receipt_no"],
            account_no=data["account_no"],
            disbursed_on=data["disbursed_on"],
            comment=data["comment"],
        )

    outcome = NOT_POSTED
    if request.method == "POST":
        outcome = run_form_step(form, disburse, place=place_rule_error, default_field="contract_no")
    if outcome.ok:
        loan = outcome.result
        messages.success(
            request,
            _(
                "Disbursed under contract %(contract)s at an annual rate of %(rate)s%%, fixed for the "
                "contract; the loan matures on %(date)s."
            )
            % {
                "contract": loan.contract_no,
                "rate": f"{loan.rate:.2f}",
                "date": loan.maturity_on.isoformat(),
            },
        )
        return redirect("loans:application_detail", pk=app.pk)
    start = form.cleaned_data.get("disbursed_on") if form.is_bound and hasattr(form, "cleaned_data") else None
    start = start or timezone.localdate()
    try:
        contract_rate, lpr_stale = applications.disbursement_rate(application=app, on_date=start)
    except ApplicationError as e:
        contract_rate, lpr_stale, rate_error = None, None, e.message
    else:
        rate_error = None
    return render(
        request,
        "loans/disburse_form.html",
        {
            **summary_context(request, app),
            "form": form,
            "rule_errors": outcome.leftover,
            "maturity": start + relativedelta(months=app.approved_term_months or app.term_months),
            "term": app.approved_term_months or app.term_months,
            "contract_on": start,
            "contract_rate": contract_rate,
            "rate_error": rate_error,
            # The service notes the same in the disbursement's audit record (rate_table_stale).
            "lpr_stale": lpr_stale,
            "report": application_report(app),
        },
        status=outcome.status,
    )
