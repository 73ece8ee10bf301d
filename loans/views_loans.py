"""Pages for the loan book: the list of loans with its filters, one loan with its history, and
the import of existing loans (存量贷款). Reads are scoped through `selectors.loan_list`; the
import's work is in loan_imports.py, these views keep the file between preview and commit."""

from __future__ import annotations

import datetime
import uuid
from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.scoping import visible_villages

from . import loan_imports, selectors
from .models import Classification, ClassificationChange, Loan, Repayment, Settlement

PAGE_SIZE = 20
SESSION_KEY = "loans_book_import"
UPLOAD_DIR = "loan-imports"
# A preview never confirmed leaves its file behind; older files go at the next upload.
STALE_AFTER = datetime.timedelta(hours=24)
SHOW_ERRORS = 500
SHOW_LOANS = 300
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Overdue buckets by days past due (DOMAIN §5, issue 4): label → (first day, last day or None).
BUCKETS = {
    "1-30": (1, 30),
    "31-90": (31, 90),
    "91-180": (91, 180),
    "181-270": (181, 270),
    "271-360": (271, 360),
    "360+": (361, None),
}


class LoanFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Contract number or borrower"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    state = forms.ChoiceField(label=gettext_lazy("state"), required=False)
    classification = forms.ChoiceField(label=gettext_lazy("classification"), required=False)
    bucket = forms.ChoiceField(label=gettext_lazy("Days past due"), required=False)
    village = forms.ModelChoiceField(label=gettext_lazy("village"), required=False, queryset=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["state"].choices = everything + list(Loan.State.choices)
        self.fields["classification"].choices = everything + list(Classification.choices)
        self.fields["bucket"].choices = everything + [
            (key, _(">360 days") if high is None else _("%(low)d-%(high)d days") % {"low": low, "high": high})
            for key, (low, high) in BUCKETS.items()
        ]
        self.fields["village"].queryset = visible_villages(user).order_by("parent__code", "code")
        self.fields["village"].empty_label = _("All")


def filter_loans(qs, criteria: dict):
    if q := (criteria.get("q") or "").strip():
        qs = qs.filter(Q(contract_no__icontains=q) | Q(borrower__name__icontains=q))
    if state := criteria.get("state"):
        qs = qs.filter(state=state)
    if classification := criteria.get("classification"):
        qs = qs.filter(classification=classification)
    if bucket := criteria.get("bucket"):
        low, high = BUCKETS[bucket]
        qs = qs.filter(days_past_due__gte=low)
        if high is not None:
            qs = qs.filter(days_past_due__lte=high)
    if village := criteria.get("village"):
        qs = qs.filter(household__village=village)
    return qs


@login_required
def book_list(request):
    filters = LoanFilterForm(request.GET or None, user=request.user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    qs = filter_loans(selectors.loan_list(user=request.user), criteria)
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page_obj": page_obj,
        "filtered": bool(criteria and any(criteria.values())),
        "can_import": loan_imports.can_import_loans(request.user),
    }
    return render(request, "loans/book_list.html", context)


@login_required
def book_detail(request, pk):
    # Every list on the page is one query, whatever the length of the loan's history.
    qs = (
        selectors.loan_list(user=request.user)
        .select_related("original_loan", "disbursed_by", "application", "household__village__parent")
        .prefetch_related(
            Prefetch("continuations", queryset=Loan.objects.order_by("disbursed_on", "id")),
            Prefetch(
                "settlements",
                queryset=Settlement.objects.select_related("recorded_by").order_by("period_start", "id"),
            ),
            Prefetch(
                "repayments",
                queryset=Repayment.objects.select_related("recorded_by").order_by("paid_on", "id"),
            ),
            Prefetch(
                "classification_changes",
                queryset=ClassificationChange.objects.select_related("by").order_by("at", "id"),
            ),
        )
    )
    loan = get_object_or_404(qs, pk=pk)
    settlements = loan.settlements.all()
    totals = {
        "interest_due": sum((s.interest_due for s in settlements), 0),
        "interest_paid": sum((s.interest_paid for s in settlements), 0),
        "penalty_paid": sum((s.penalty_paid for s in settlements), 0),
        "principal_repaid": sum((r.principal for r in loan.repayments.all()), 0),
    }
    can_service = loan_imports.can_import_loans(request.user) and loan.state in Loan.OPEN_STATES
    return render(
        request, "loans/book_detail.html", {"loan": loan, "totals": totals, "can_service": can_service}
    )


# ---------------------------------------------------------------------------------------------
# Import


class LoanImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or Excel file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "A .csv (UTF-8 or GBK) or .xlsx file laid out like the template, "
            "at most %(mb)d MB and %(rows)d rows."
        ) % {"mb": loan_imports.MAX_FILE_SIZE // (1024 * 1024), "rows": loan_imports.MAX_ROWS}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(
                _(
                    "Only .csv and .xlsx files can be imported. "
                    "Save the file from Excel or WPS in one of them."
                )
            )
        if upload.size > loan_imports.MAX_FILE_SIZE:
            raise forms.ValidationError(loan_imports.file_too_large_message())
        return upload


def _allowed(request) -> None:
    if not loan_imports.can_import_loans(request.user):
        raise PermissionDenied


def _pending_name(token: str) -> str:
    # Built only from the server's own uuid, never from anything the browser sends.
    return f"{UPLOAD_DIR}/{uuid.UUID(hex=token).hex}"


def _discard(token: str | None) -> None:
    if token:
        default_storage.delete(_pending_name(token))


def _sweep_stale() -> None:
    try:
        _dirs, files = default_storage.listdir(UPLOAD_DIR)
    except (FileNotFoundError, NotImplementedError):
        return
    cutoff = timezone.now() - STALE_AFTER
    for name in files:
        path = f"{UPLOAD_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except (FileNotFoundError, NotImplementedError):
            continue


def _clean_filename(name: str) -> str:
    return PurePath(name.replace("\\", "/")).name[:100] or "import.csv"


def _preview_context(preview, **extra) -> dict:
    return {
        "preview": preview,
        "errors": preview.errors[:SHOW_ERRORS],
        "errors_hidden": max(0, len(preview.errors) - SHOW_ERRORS),
        "loans": preview.loans[:SHOW_LOANS],
        "loans_hidden": max(0, len(preview.loans) - SHOW_LOANS),
        **extra,
    }


@login_required
def book_import(request):
    _allowed(request)
    context = {"columns": loan_imports.COLUMNS}
    if request.method != "POST":
        return render(request, "loans/book_import.html", {**context, "form": LoanImportForm()})
    form = LoanImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "loans/book_import.html", {**context, "form": form}, status=400)
    upload = form.cleaned_data["file"]
    filename = _clean_filename(upload.name)
    preview = loan_imports.parse_loans(upload, filename, user=request.user)

    # A new upload replaces whatever was waiting for confirmation.
    _discard(request.session.pop(SESSION_KEY, {}).get("token"))
    _sweep_stale()
    token = None
    if preview.ok:
        token = uuid.uuid4().hex
        upload.seek(0)
        default_storage.save(_pending_name(token), upload)
        request.session[SESSION_KEY] = {"token": token, "filename": filename}
    return render(
        request, "loans/book_import_preview.html", _preview_context(preview, filename=filename, token=token)
    )


@login_required
@require_POST
def book_import_commit(request):
    _allowed(request)
    pending = request.session.get(SESSION_KEY) or {}
    token = pending.get("token")
    if not token or request.POST.get("token") != token or not default_storage.exists(_pending_name(token)):
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return HttpResponseRedirect(reverse("loans:book_import"))
    filename = pending["filename"]
    try:
        with default_storage.open(_pending_name(token), "rb") as file:
            count = loan_imports.import_loans(acting_user=request.user, file=file, filename=filename)
    except loan_imports.LoanImportRejected as e:
        # Something changed since the preview (another import took a contract number meanwhile).
        context = _preview_context(e.preview, filename=filename, token=None, rejected=True)
        return render(request, "loans/book_import_preview.html", context, status=409)
    finally:
        # One attempt per upload: the file (personal data) is not kept after it.
        request.session.pop(SESSION_KEY, None)
        _discard(token)
    messages.success(
        request, _("Imported %(n)d existing loans from %(filename)s.") % {"n": count, "filename": filename}
    )
    return HttpResponseRedirect(reverse("loans:book_list") + "?imported=1")


@login_required
def book_import_template(request):
    _allowed(request)
    response = HttpResponse(loan_imports.import_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "存量贷款导入模板.xlsx")
    return response
