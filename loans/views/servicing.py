"""Pages for servicing: the settlement list import (upload, preview, confirm) and its template,
a settlement entered by hand, the confirmation of a settlement's flagged interest, a repayment,
and the overdue list with its buckets. The work is in services/servicing.py, settlements.py and
settlement_list.py; these views handle forms, the pending upload and the answer."""

from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import uploads
from core.exceptions import ApplicationError
from core.forms import DateInput
from core.pages import run_form_step

from .. import exports, selectors
from ..classification import BUCKET_BY_KEY
from ..models import Loan, Settlement
from ..permissions import can_service, require_servicer
from ..services import servicing, settlement_list
from ..services import settlements as settlement_services

# The list waits here between the preview and the confirmation (core.uploads.Staging).
STAGING = uploads.Staging(session_key="loans_settlement_import", folder="imports", prefix="settlements-")
SHOW_ERRORS = 500
SHOW_ROWS = 300
PAGE_SIZE = 50
MONEY = {"max_digits": 12, "decimal_places": 2}
# A date input takes ISO dates only; the zh-hans input format (2026/06/17) would leave it empty.
# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _loan(request, pk) -> Loan:
    return selectors.loan_get(user=request.user, pk=pk)


def _loan_url(loan: Loan) -> str:
    """The loan's detail page where there is one; otherwise the overdue list."""
    for name in ("loans:loan_detail", "loans:book_detail"):
        try:
            return reverse(name, args=[loan.pk])
        except NoReverseMatch:
            continue
    return reverse("loans:overdue_list")


# ---- the settlement list ----------------------------------------------------------------------


END_DATE_CHOICES = [
    (
        "no",
        gettext_lazy(
            "No, the end date is not counted (算头不算尾): interest runs up to the day before it, and the "
            "end date starts the next period. Example: 2026-03-20 to 2026-06-20 is 92 days. This is "
            "the system's own convention; the dates are saved as listed."
        ),
    ),
    (
        "yes",
        gettext_lazy(
            "Yes, the end date is counted (算头算尾): it is a day of interest too. Example: 2026-03-21 to "
            "2026-06-20 is 92 days; it is saved as 2026-03-21 to 2026-06-21, end date not counted."
        ),
    ),
]


class SettlementImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Settlement list"),
        help_text=gettext_lazy("The bank's interest settlement list (结息清单) as .csv or .xlsx."),
    )
    # No default: a wrong guess would shift every period by a day, so the person who knows the
    # bank's list says which it is.
    end_date_counted = forms.TypedChoiceField(
        label=gettext_lazy("Is interest charged on the end date (计息止日)?"),
        choices=END_DATE_CHOICES,
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Applies to every row of the file. If unsure, ask the bank or count the days of one "
            "quarter: a quarter read the wrong way overlaps the periods already recorded and is refused."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Only .csv and .xlsx files can be imported."))
        return upload


def _preview_context(result: settlement_list.SettlementImportResult, **extra) -> dict:
    return {
        "result": result,
        "flagged": result.flagged[:SHOW_ROWS],
        "tolerance": settlement_services.INTEREST_TOLERANCE,
        "errors": result.errors[:SHOW_ERRORS],
        "errors_hidden": max(0, len(result.errors) - SHOW_ERRORS),
        "rows": [r for r in result.rows if r.values][:SHOW_ROWS],
        "columns": settlement_list.COLUMNS,
        **extra,
    }


def _import_context(form: SettlementImportForm, **extra) -> dict:
    return {
        "form": form,
        "columns": settlement_list.COLUMNS,
        "tolerance": settlement_services.INTEREST_TOLERANCE,
        **extra,
    }


@login_required
def settlement_import_template(request):
    require_servicer(request.user, page=True)
    response = HttpResponse(settlement_list.settlement_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "结息清单模板.xlsx")
    return response


@login_required
def settlement_import(request):
    require_servicer(request.user, page=True)
    template = "loans/servicing_import.html"
    form = SettlementImportForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, template, _import_context(form), status=status)
    upload = form.cleaned_data["file"]
    counted = form.cleaned_data["end_date_counted"]
    filename = PurePath(upload.name.replace("\\", "/")).name[:100]
    result = settlement_list.settlement_import_check(
        user=request.user, file=upload, filename=filename, end_date_counted=counted
    )
    token = None
    if result.ok:
        suffix = ".csv" if filename.lower().endswith(".csv") else ".xlsx"
        token = STAGING.stage(
            request.session, upload, suffix=suffix, filename=filename, end_date_counted=counted
        )
    else:
        STAGING.discard(request.session)
    return render(
        request,
        "loans/servicing_import_preview.html",
        _preview_context(result, filename=filename, token=token),
    )


@login_required
def settlement_import_commit(request):
    require_servicer(request.user, page=True)
    if request.method != "POST":
        return redirect("loans:settlement_import")
    pending = STAGING.pending(request.session, request.POST.get("token"))
    if pending is None:
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return redirect("loans:settlement_import")
    filename = pending["filename"]
    counted = bool(pending.get("end_date_counted"))
    try:
        with STAGING.open(pending) as file:
            result = settlement_list.settlement_import(
                acting_user=request.user, file=file, filename=filename, end_date_counted=counted
            )
    except FileNotFoundError:
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return redirect("loans:settlement_import")
    except settlement_list.SettlementImportRejected as e:
        context = _preview_context(e.result, filename=filename, token=None, rejected=True)
        return render(request, "loans/servicing_import_preview.html", context, status=409)
    except ApplicationError as e:
        # The database refused an overlap the check missed (a write that bypassed the lock).
        context = _import_context(SettlementImportForm(), conflict=str(e.message))
        return render(request, "loans/servicing_import.html", context, status=e.status_code)
    finally:
        STAGING.discard(request.session)
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
    if result.needs_review:
        messages.warning(
            request,
            _(
                "%(n)d new settlements have interest that differs from principal × rate × days ÷ 360; "
                "they are not subsidized until a loan officer confirms them on the loan's page."
            )
            % {"n": result.needs_review},
        )
    return redirect("loans:settlement_import")


# ---- a settlement by hand -----------------------------------------------------------------------


class SettlementManualForm(forms.Form):
    period_start = forms.DateField(
        label=gettext_lazy("period start"),
        widget=DATE_INPUT,
        help_text=gettext_lazy("The first day of interest, counted."),
    )
    period_end = forms.DateField(
        label=gettext_lazy("period end"),
        widget=DATE_INPUT,
        help_text=gettext_lazy(
            "Not counted (算头不算尾): interest runs up to the day before; the end date starts the next "
            "period. Example: 2026-03-20 to 2026-06-20 is 92 days. If the bank's slip counts its end "
            "date, enter the day after it."
        ),
    )
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
    require_servicer(request.user, page=True)
    form = SettlementManualForm(
        request.POST or None, initial={"principal": loan.outstanding, "rate": loan.rate}
    )
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form,
            lambda data: settlement_services.settlement_record_manual(
                acting_user=request.user, loan=loan, **data
            ),
        )
        status = outcome.status
        if outcome.ok:
            settlement = outcome.result
            messages.success(request, _("The settlement was recorded."))
            if settlement.needs_review:
                messages.warning(request, _flag_message(settlement))
            return redirect(_loan_url(loan))
    settlements = selectors.settlement_list(loan=loan)
    return render(
        request,
        "loans/servicing_settlement_form.html",
        {"loan": loan, "form": form, "settlements": settlements},
        status=status,
    )


def _flag_message(settlement: Settlement) -> str:
    return _(
        "The interest due of %(listed)s differs from principal × rate × days ÷ 360 = %(expected)s; "
        "it is not subsidized until a loan officer confirms it."
    ) % {"listed": settlement.interest_due, "expected": settlement.expected_interest}


# ---- confirming flagged interest ------------------------------------------------------------------


class SettlementConfirmForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Why the interest may stand as the bank listed it, e.g. checked against the bank's interest slip."
        ),
    )


@login_required
def settlement_confirm(request, pk):
    settlement = selectors.settlement_get(user=request.user, pk=pk)
    require_servicer(request.user, page=True)
    loan = settlement.loan
    form = SettlementConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form,
            lambda data: settlement_services.settlement_confirm(
                acting_user=request.user, settlement=settlement, reason=data["reason"]
            ),
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The interest was confirmed; the settlement can be subsidized."))
            return redirect(_loan_url(loan))
    return render(
        request,
        "loans/servicing_settlement_confirm.html",
        {
            "loan": loan,
            "settlement": settlement,
            "form": form,
            "tolerance": settlement_services.INTEREST_TOLERANCE,
        },
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
    require_servicer(request.user, page=True)
    form = RepaymentForm(request.POST or None, initial={"paid_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda data: servicing.repayment_record(acting_user=request.user, loan=loan, **data)
        )
        status = outcome.status
        if outcome.ok:
            repayment = outcome.result
            if repayment.outstanding_after == 0:
                messages.success(request, _("The repayment was recorded and the loan is settled (结清)."))
            else:
                messages.success(request, _("The repayment was recorded."))
            return redirect(_loan_url(loan))
    return render(
        request,
        "loans/servicing_repayment_form.html",
        {"loan": loan, "form": form, "repayments": selectors.repayment_list(loan=loan)},
        status=status,
    )


# ---- the overdue list ---------------------------------------------------------------------------------


@login_required
def overdue_list(request):
    bucket = request.GET.get("bucket", "")
    if bucket not in BUCKET_BY_KEY:
        bucket = ""
    sorting = selectors.OVERDUE_SORTS.read(request.GET)
    qs = selectors.overdue_loans(user=request.user, bucket=bucket, sorting=sorting)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.overdue_bucket_counts(user=request.user)
    return render(
        request,
        "loans/servicing_overdue_list.html",
        {
            "sorting": sorting,
            "page_obj": page,
            "loans": page.object_list,
            "buckets": counts,
            "bucket": bucket,
            "total": sum(n for _b, n in counts),
            "can_service": can_service(request.user),
        },
    )


@login_required
def overdue_export(request):
    """The overdue list as a workbook: the loans the page lists (bucket and order), with the
    borrower's phone number for the roles that call borrowers (exports.PHONE_ROLES)."""
    bucket = request.GET.get("bucket", "")
    if bucket not in BUCKET_BY_KEY:
        bucket = ""
    sorting = selectors.OVERDUE_SORTS.read(request.GET)
    qs = selectors.overdue_loans(user=request.user, bucket=bucket, sorting=sorting)
    try:
        data = exports.overdue_xlsx(user=request.user, loans=qs, filters={"bucket": bucket})
    except exports.ExportTooLarge as e:
        messages.error(request, e.message)
        return redirect(reverse("loans:overdue_list") + "?" + request.GET.urlencode())
    response = HttpResponse(data, content_type=XLSX)
    filename = f"逾期贷款-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
