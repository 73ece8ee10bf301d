"""Pages for the loan book: the list of loans with its filters, one loan with its history, and
the import of existing loans (存量贷款). Reads are scoped through `selectors.loan_list`; the
import's work is in services/imports.py, these views keep the file between preview and commit."""

from __future__ import annotations

import datetime
from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.scoping import visible_villages
from core import uploads
from policies import selectors as policy_selectors
from policies.exceptions import PolicyProfileMissing
from policies.models import PolicyProfile

from .. import exports, interest, selectors, waiting
from ..choices import Classification
from ..classification import BUCKETS, bucket_for
from ..models import Extension, Loan, LoanApplication
from ..permissions import can_service
from ..services import changes, import_rows
from ..services import imports as loan_imports

PAGE_SIZE = 20
# The file waits here between the preview and the confirmation (core.uploads.Staging).
STAGING = uploads.Staging(session_key="loans_book_import", folder="loan-imports")
SHOW_ERRORS = 500
SHOW_LOANS = 300
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The loan book's filter and tag title spell the last overdue bucket `360+` (the overdue list and
# its API say `gt360`); the spelling stays at this edge so bookmarked filters keep working.
BOOK_KEYS = {"gt360": "360+"}
BUCKET_BY_BOOK_KEY = {BOOK_KEYS.get(b.key, b.key): b for b in BUCKETS}


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
            (key, _bucket_label(bucket)) for key, bucket in BUCKET_BY_BOOK_KEY.items()
        ]
        self.fields["village"].queryset = visible_villages(user).order_by("parent__code", "code")
        self.fields["village"].empty_label = _("All")


def _bucket_label(bucket) -> str:
    if bucket.high is None:
        return _(">360 days")
    return _("%(low)d-%(high)d days") % {"low": bucket.low, "high": bucket.high}


def book_criteria(request) -> tuple[LoanFilterForm, dict]:
    """The loan book's filter form and what it asks for (the book's export reads the same)."""
    filters = LoanFilterForm(request.GET or None, user=request.user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    return filters, criteria


def book_search(request, criteria: dict, sorting=None):
    """The loan book's rows for the filters, the home page's to-do narrowing and `sorting`: the
    page and its export (loans/exports.py) hold the same loans."""
    bucket = criteria.get("bucket")
    qs = selectors.loan_search(
        user=request.user,
        q=criteria.get("q") or "",
        state=criteria.get("state") or "",
        classification=criteria.get("classification") or "",
        bucket=BUCKET_BY_BOOK_KEY[bucket] if bucket else None,
        village=criteria.get("village"),
        sorting=sorting,
    )
    # The home page's to-do links: loans maturing within 30 days, loans without an account.
    todo = request.GET.get("todo", "")
    qs = waiting.narrow_loans(
        qs,
        maturing_from=timezone.localdate() if todo == waiting.MATURING else None,
        account_missing=todo == waiting.ACCOUNT_MISSING,
    )
    return qs


@login_required
def book_list(request):
    filters, criteria = book_criteria(request)
    sorting = selectors.LOAN_SORTS.read(request.GET)
    qs = book_search(request, criteria, sorting)
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for loan in page_obj.object_list:
        loan.bucket, loan.dpd_tag = _days_past_due_tag(loan.days_past_due)
    context = {
        "filters": filters,
        "todo_filter": waiting.todo_filter(request),
        "sorting": sorting,
        "page_obj": page_obj,
        "filtered": bool(criteria and any(criteria.values())),
        "can_import": loan_imports.can_import_loans(request.user),
    }
    return render(request, "loans/book_list.html", context)


def book_filters_for_audit(criteria: dict) -> dict:
    """The book's filter as the audit row keeps it (ids and codes, no objects)."""
    village = criteria.get("village")
    kept = {key: value for key, value in criteria.items() if value and key != "village"}
    return {**kept, "village": village.pk} if village else kept


@login_required
def book_export(request):
    """The loan book as a workbook: the loans the page lists, with its filters and order."""
    _filters, criteria = book_criteria(request)
    qs = book_search(request, criteria, selectors.LOAN_SORTS.read(request.GET))
    filters = book_filters_for_audit(criteria)
    if todo := request.GET.get("todo"):
        filters["todo"] = todo
    try:
        data = exports.book_xlsx(user=request.user, loans=qs, filters=filters)
    except exports.ExportTooLarge as e:
        messages.error(request, e.message)
        return HttpResponseRedirect(reverse("loans:book_list") + "?" + request.GET.urlencode())
    response = HttpResponse(data, content_type=XLSX)
    filename = f"贷款台账-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _days_past_due_tag(days: int) -> tuple[str, str]:
    """The overdue bucket's key (as the loan book spells it) and the tag's colour class for a
    number of days past due."""
    bucket = bucket_for(days)
    if bucket is None:
        return "", ""
    return BOOK_KEYS.get(bucket.key, bucket.key), bucket.tone


def _schedule_rows(loan: Loan, settlements, settlement_day: int, today: datetime.date) -> list[dict]:
    """The contract's periods (loans.interest) with the interest expected on the contract's amount,
    each next to the settlements recorded for it: a settlement belongs to the period its start
    falls in, whatever end date the bank printed (inclusive or the settlement day itself)."""
    rows = [
        {"period": period, "expected": expected, "settlements": []}
        for period, expected in interest.schedule_with_interest(
            principal=loan.amount,
            rate=loan.rate,
            disbursed_on=loan.disbursed_on,
            maturity_on=loan.maturity_on,
            settlement_day=settlement_day,
        )
    ]
    for s in settlements:
        for row in rows:
            if row["period"].start <= s.period_start < row["period"].end:
                row["settlements"].append(s)
                break
    for row in rows:
        recorded = row["settlements"]
        row["interest_paid"] = sum((s.interest_paid for s in recorded), 0)
        if recorded and all(s.paid_on for s in recorded):
            row["status"] = "paid"
        elif recorded:
            row["status"] = "unpaid"
        elif row["period"].end <= today:
            row["status"] = "missing"
        else:
            row["status"] = "future"
    return rows


def _settlement_day(loan: Loan) -> int:
    try:
        county = policy_selectors.county_of(loan.household.village)
        return policy_selectors.profile_for(county=county, on_date=loan.disbursed_on).settlement_day
    except PolicyProfileMissing:
        return 20


def _actions(user, loan: Loan, extensions) -> dict:
    """What this user may do on this loan, with the same rules the target pages apply."""
    is_open = loan.state in Loan.OPEN_STATES
    branch_officer = user.has_role(Role.LOAN_OFFICER) and user.unit_id == loan.branch_id
    servicer = can_service(user) and (branch_officer or user.has_role(Role.ADMIN))
    # An action the user could take but a rule bars shows the rule instead of its button; an
    # in-flight renewal shows a link to itself.
    blocked = []
    extension = is_open and changes.can_request_extension(user, loan)
    if extension and (failures := changes.extension_obstacles(loan)):
        blocked.append((_("Request an extension (展期)"), failures))
        extension = False
    follow_up = is_open and changes.can_start_follow_up(user, loan)
    renewal_pending = next(
        (
            a
            for a in loan.follow_up_applications.all()
            if a.kind == LoanApplication.Kind.RENEWAL and a.state in changes.COUNTED_RENEWAL_STATES
        ),
        None,
    )
    renewal = follow_up and renewal_pending is None
    if renewal and (failures := changes.renewal_obstacles(loan)):
        blocked.append((_("Apply for a renewal (续贷)"), failures))
        renewal = False
    return {
        "blocked": blocked,
        "renewal_pending": renewal_pending if follow_up else None,
        "repayment": servicer and is_open,
        "settlement": servicer and is_open,
        "confirm_settlement": servicer,
        "check": servicer,
        "insurance": servicer,
        "event": servicer,
        "account": servicer,
        "extension": extension,
        "decide_extension": any(e.status == Extension.Status.REQUESTED for e in extensions)
        and changes.can_decide_extension(user, loan),
        "malicious_default": is_open and (branch_officer or user.has_role(Role.COUNTY_OFFICE)),
        "renewal": renewal,
        "additional": follow_up,
    }


@login_required
def book_detail(request, pk):
    # Every list on the page is one query, whatever the length of the loan's history: each
    # reverse relation is prefetched (never queried from the template), and nested lists
    # (payouts, the chain) are fetched once and grouped in Python, so even an empty list costs
    # the same single query as a long one.
    loan = selectors.loan_history(loan=selectors.loan_detail(user=request.user, pk=pk), user=request.user)
    settlements = loan.settlements.all()
    repayments = loan.repayments.all()
    extensions = loan.extensions.all()
    totals = {
        "interest_due": sum((s.interest_due for s in settlements), 0),
        "interest_paid": sum((s.interest_paid for s in settlements), 0),
        "penalty_paid": sum((s.penalty_paid for s in settlements), 0),
        "principal_repaid": sum((r.principal for r in repayments), 0),
    }

    chain = selectors.loan_chain(loan=loan)

    policies = list(loan.insurance_policies.all())
    payouts: dict[int, list] = {p.pk: [] for p in policies}
    for payout in selectors.insurance_payouts(loan=loan):
        payouts[payout.policy_id].append(payout)
    for policy in policies:
        policy.payout_list = payouts[policy.pk]
        policy.payout_total = sum((p.amount for p in policy.payout_list), 0)

    today = timezone.localdate()
    checks = list(loan.checks.all())
    for check in checks:
        check.status = selectors.check_status(check, today)
    schedule = _schedule_rows(loan, settlements, _settlement_day(loan), today)
    bucket, dpd_tag = _days_past_due_tag(loan.days_past_due)
    context = {
        "loan": loan,
        "totals": totals,
        "schedule": schedule,
        "schedule_expected": sum((row["expected"] for row in schedule), 0),
        "chain": chain if len(chain) > 1 else [],
        "policies": policies,
        "checks": checks,
        "extended_months": sum(e.months for e in extensions if e.status == Extension.Status.APPROVED),
        "events": loan.borrower.events.all(),
        "can": _actions(request.user, loan, extensions),
        "dpd_tag": dpd_tag,
        "bucket": bucket,
        "rate_basis_label": dict(PolicyProfile.RateBasis.choices).get(loan.rate_basis, loan.rate_basis),
    }
    return render(request, "loans/book_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Import


class LoanImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or Excel file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "A .csv (UTF-8 or GBK) or .xlsx file laid out like the template, "
            "at most %(mb)d MB and %(rows)d rows."
        ) % {"mb": import_rows.MAX_FILE_SIZE // (1024 * 1024), "rows": import_rows.MAX_ROWS}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(
                _(
                    "Only .csv and .xlsx files can be imported. "
                    "Save the file from Excel or WPS in one of them."
                )
            )
        if upload.size > import_rows.MAX_FILE_SIZE:
            raise forms.ValidationError(import_rows.file_too_large_message())
        return upload


def _allowed(request) -> None:
    if not loan_imports.can_import_loans(request.user):
        raise PermissionDenied


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
    context = {"columns": import_rows.COLUMNS}
    if request.method != "POST":
        return render(request, "loans/book_import.html", {**context, "form": LoanImportForm()})
    form = LoanImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "loans/book_import.html", {**context, "form": form}, status=400)
    upload = form.cleaned_data["file"]
    filename = _clean_filename(upload.name)
    preview = loan_imports.parse_loans(upload, filename, user=request.user)

    # A new upload replaces whatever was waiting for confirmation.
    token = None
    if preview.ok:
        token = STAGING.stage(request.session, upload, filename=filename)
    else:
        STAGING.discard(request.session)
        STAGING.sweep_stale()
    return render(
        request, "loans/book_import_preview.html", _preview_context(preview, filename=filename, token=token)
    )


@login_required
@require_POST
def book_import_commit(request):
    _allowed(request)
    pending = STAGING.pending(request.session, request.POST.get("token"))
    if pending is None:
        messages.error(
            request, _("There is no file waiting to be imported, or it has expired; upload it again.")
        )
        return HttpResponseRedirect(reverse("loans:book_import"))
    filename = pending["filename"]
    try:
        with STAGING.open(pending) as file:
            count = loan_imports.import_loans(acting_user=request.user, file=file, filename=filename)
    except loan_imports.LoanImportRejected as e:
        # Something changed since the preview (another import took a contract number meanwhile).
        context = _preview_context(e.preview, filename=filename, token=None, rejected=True)
        return render(request, "loans/book_import_preview.html", context, status=409)
    finally:
        # One attempt per upload: the file (personal data) is not kept after it.
        STAGING.discard(request.session)
    messages.success(
        request, _("Imported %(n)d existing loans from %(filename)s.") % {"n": count, "filename": filename}
    )
    return HttpResponseRedirect(reverse("loans:book_list") + "?imported=1")


@login_required
def book_import_template(request):
    _allowed(request)
    response = HttpResponse(import_rows.import_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "存量贷款导入模板.xlsx")
    return response
