"""Pages for servicing: the settlement list import (upload, preview, confirm), a settlement
entered by hand, a repayment, and the overdue list with its buckets. The work is in
servicing.py; these views handle forms, the pending upload and the answer."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.exceptions import ApplicationError, NotPermitted

from . import selectors, servicing
from .models import Loan

SESSION_KEY = "loans_settlement_import"
UPLOAD_DIR = "imports"
SHOW_ERRORS = 500
SHOW_ROWS = 300
PAGE_SIZE = 50
MONEY = {"max_digits": 12, "decimal_places": 2}
DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def _require_servicer(request) -> None:
    if not servicing.can_service(request.user):
        raise PermissionDenied


def _loan(request, pk) -> Loan:
    return get_object_or_404(selectors.loan_list(user=request.user), pk=pk)


def _loan_url(loan: Loan) -> str:
    """The loan's detail page where there is one; otherwise the overdue list."""
    for name in ("loans:loan_detail", "loans:book_detail"):
        try:
            return reverse(name, args=[loan.pk])
        except NoReverseMatch:
            continue
    return reverse("loans:overdue_list")


def _place_error(form: forms.Form, error: ApplicationError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.message))


# ---- the settlement list ----------------------------------------------------------------------


class SettlementImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Settlement list"),
        help_text=gettext_lazy("The bank's interest settlement list (结息清单) as .csv or .xlsx."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Only .csv and .xlsx files can be imported."))
        return upload


def _pending_name(token: str, suffix: str) -> str:
    # Built only from the server's own uuid and a fixed suffix, never from the browser's input.
    return f"{UPLOAD_DIR}/settlements-{uuid.UUID(hex=token).hex}{suffix}"


def _discard(pending: dict) -> None:
    if pending.get("token"):
        default_storage.delete(_pending_name(pending["token"], pending["suffix"]))


def _preview_context(result: servicing.SettlementImportResult, **extra) -> dict:
    return {
        "result": result,
        "errors": result.errors[:SHOW_ERRORS],
        "errors_hidden": max(0, len(result.errors) - SHOW_ERRORS),
        "rows": [r for r in result.rows if r.values][:SHOW_ROWS],
        "columns": servicing.COLUMNS,
        **extra,
    }


@login_required
def settlement_import(request):
    _require_servicer(request)
    template = "loans/servicing_import.html"
    form = SettlementImportForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, template, {"form": form, "columns": servicing.COLUMNS}, status=status)
    upload = form.cleaned_data["file"]
    filename = PurePath(upload.name.replace("\\", "/")).name[:100]
    result = servicing.settlement_import_check(user=request.user, file=upload, filename=filename)
    _discard(request.session.pop(SESSION_KEY, {}))
    token = None
    if result.ok:
        token = uuid.uuid4().hex
        suffix = ".csv" if filename.lower().endswith(".csv") else ".xlsx"
        upload.seek(0)
        default_storage.save(_pending_name(token, suffix), upload)
        request.session[SESSION_KEY] = {"token": token, "suffix": suffix, "filename": filename}
    return render(
        request,
        "loans/servicing_import_preview.html",
        _preview_context(result, filename=filename, token=token),
    )


@login_required
def settlement_import_commit(request):
    _require_servicer(request)
    if request.method != "POST":
        return redirect("loans:settlement_import")
    pending = request.session.get(SESSION_KEY) or {}
    token = pending.get("token")
    if not token or request.POST.get("token") != token:
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return redirect("loans:settlement_import")
    name = _pending_name(token, pending["suffix"])
    filename = pending["filename"]
    try:
        with default_storage.open(name, "rb") as file:
            result = servicing.settlement_import(acting_user=request.user, file=file, filename=filename)
    except FileNotFoundError:
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return redirect("loans:settlement_import")
    except servicing.SettlementImportRejected as e:
        context = _preview_context(e.result, filename=filename, token=None, rejected=True)
        return render(request, "loans/servicing_import_preview.html", context, status=409)
    finally:
        request.session.pop(SESSION_KEY, None)
        default_storage.delete(name)
    messages.success(
        request,
        _(
            "Settlement list %(filename)s imported: %(created)d new, %(paid_late)d paid late, "
            "%(unchanged)d already imported."
        )
        % {
            "filename": filename,
            "created": result.created,
            "paid_late": result.updated_paid_late,
            "unchanged": result.unchanged,
        },
    )
    return redirect("loans:settlement_import")


# ---- a settlement by hand -----------------------------------------------------------------------


class SettlementManualForm(forms.Form):
    period_start = forms.DateField(label=gettext_lazy("period start"), widget=DATE_INPUT)
    period_end = forms.DateField(label=gettext_lazy("period end"), widget=DATE_INPUT)
    principal = forms.DecimalField(label=gettext_lazy("principal"), min_value=0, **MONEY)
    rate = forms.DecimalField(
        label=gettext_lazy("annual rate (%)"), min_value=0, max_digits=6, decimal_places=4
    )
    interest_due = forms.DecimalField(label=gettext_lazy("interest due"), min_value=0, **MONEY)
    interest_paid = forms.DecimalField(label=gettext_lazy("interest paid"), min_value=0, initial=0, **MONEY)
    penalty_paid = forms.DecimalField(
        label=gettext_lazy("penalty and compound interest paid"), min_value=0, initial=0, **MONEY
    )
    paid_on = forms.DateField(label=gettext_lazy("paid on"), required=False, widget=DATE_INPUT)
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea)


@login_required
def settlement_manual(request, pk):
    loan = _loan(request, pk)
    _require_servicer(request)
    form = SettlementManualForm(
        request.POST or None, initial={"principal": loan.outstanding, "rate": loan.rate}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                servicing.settlement_record_manual(acting_user=request.user, loan=loan, **form.cleaned_data)
            except NotPermitted:
                raise PermissionDenied from None
            except ApplicationError as e:
                _place_error(form, e)
                status = e.status_code
            else:
                messages.success(request, _("The settlement was recorded."))
                return redirect(_loan_url(loan))
    settlements = loan.settlements.select_related("recorded_by").order_by("period_start")
    return render(
        request,
        "loans/servicing_settlement_form.html",
        {"loan": loan, "form": form, "settlements": settlements},
        status=status,
    )


# ---- repayments -----------------------------------------------------------------------------------


class RepaymentForm(forms.Form):
    principal = forms.DecimalField(label=gettext_lazy("principal repaid"), **MONEY)
    paid_on = forms.DateField(label=gettext_lazy("paid on"), widget=DATE_INPUT)
    note = forms.CharField(label=gettext_lazy("note"), required=False, widget=forms.Textarea)


@login_required
def repayment_create(request, pk):
    loan = _loan(request, pk)
    _require_servicer(request)
    form = RepaymentForm(request.POST or None, initial={"paid_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                repayment = servicing.repayment_record(
                    acting_user=request.user, loan=loan, **form.cleaned_data
                )
            except NotPermitted:
                raise PermissionDenied from None
            except ApplicationError as e:
                _place_error(form, e)
                status = e.status_code
            else:
                if repayment.outstanding_after == 0:
                    messages.success(request, _("The repayment was recorded and the loan is settled (结清)."))
                else:
                    messages.success(request, _("The repayment was recorded."))
                return redirect(_loan_url(loan))
    return render(
        request,
        "loans/servicing_repayment_form.html",
        {"loan": loan, "form": form, "repayments": loan.repayments.select_related("recorded_by")},
        status=status,
    )


# ---- the overdue list ---------------------------------------------------------------------------------


@login_required
def overdue_list(request):
    bucket = request.GET.get("bucket", "")
    if bucket not in servicing.BUCKET_BY_KEY:
        bucket = ""
    qs = servicing.overdue_list(user=request.user, bucket=bucket).select_related(
        "household__village__parent", "borrower", "branch"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = servicing.overdue_bucket_counts(user=request.user)
    return render(
        request,
        "loans/servicing_overdue_list.html",
        {
            "page_obj": page,
            "loans": page.object_list,
            "buckets": counts,
            "bucket": bucket,
            "total": sum(n for _b, n in counts),
            "can_service": servicing.can_service(request.user),
        },
    )
