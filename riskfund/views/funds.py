"""Pages for the funds (DOMAIN §8): the list with each fund's balance, multiple, outstanding and
headroom; one fund with its ledger, where finance staff of the county enter deposits, interest and
withdrawals and reverse a mistaken transaction; recording a new fund; and the statement of any
period, on screen, as XLSX and as PDF (riskfund/statements.py computes it once for all three)."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import OrgUnit
from core.forms import DateInput
from core.pages import run_form_step

from .. import selectors, statements
from ..models import LedgerTransaction
from ..services import funds as fund_services
from ..services import ledger

PAGE_SIZE = 20
MONEY = {"max_digits": 14, "decimal_places": 2}
# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Kind = LedgerTransaction.Kind
MOVEMENT_KINDS = [(k.value, k.label) for k in (Kind.DEPOSIT, Kind.INTEREST, Kind.WITHDRAWAL)]


# ---- the list ---------------------------------------------------------------------------------


class FundFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Name, account number, county or bank"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )


@login_required
def fund_list(request):
    filters = FundFilterForm(request.GET or None)
    q = filters.cleaned_data.get("q", "") if filters.is_bound and filters.is_valid() else ""
    qs = selectors.fund_search(request.user, q=q)
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = fund_services.fund_figures(page_obj.object_list, on_date=timezone.localdate())
    context = {
        "filters": filters,
        "filtered": bool(q),
        "page_obj": page_obj,
        "rows": rows,
        "can_create": fund_services.can_create_fund(request.user),
    }
    return render(request, "riskfund/fund_list.html", context)


# ---- one fund ---------------------------------------------------------------------------------


class MovementForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=MOVEMENT_KINDS)
    amount = forms.DecimalField(label=gettext_lazy("amount (yuan)"), min_value=0, **MONEY)
    booked_on = forms.DateField(label=gettext_lazy("booked on"), widget=DATE_INPUT)
    reference = forms.CharField(label=gettext_lazy("bank reference"), max_length=64, required=False)
    memo = forms.CharField(
        label=gettext_lazy("memo"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What the bank's slip says, e.g. the county's first deposit."),
    )


class ReverseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("reason for the reversal"), max_length=500)


def _detail_context(request, fund, *, form=None):
    (figures,) = fund_services.fund_figures([fund], on_date=timezone.localdate())
    page_obj = Paginator(selectors.transaction_list(fund), PAGE_SIZE).get_page(request.GET.get("page"))
    is_finance = ledger.is_fund_finance(request.user, fund)
    if is_finance and form is None:
        form = MovementForm(initial={"booked_on": timezone.localdate(), "kind": Kind.DEPOSIT})
    return {
        "fund": fund,
        "figures": figures,
        "page_obj": page_obj,
        "is_finance": is_finance,
        "form": form if is_finance else None,
        "reversible": {Kind.DEPOSIT, Kind.INTEREST, Kind.WITHDRAWAL},
    }


@login_required
def fund_detail(request, pk):
    fund = selectors.fund_get(request.user, pk)
    return render(request, "riskfund/fund_detail.html", _detail_context(request, fund))


@login_required
@require_POST
def movement_create(request, pk):
    fund = selectors.fund_get(request.user, pk)
    if not ledger.is_fund_finance(request.user, fund):
        raise PermissionDenied
    form = MovementForm(request.POST)
    outcome = run_form_step(
        form, lambda data: ledger.movement_record(acting_user=request.user, fund=fund, **data)
    )
    if outcome.ok:
        messages.success(
            request,
            _("%(kind)s of %(amount)s yuan recorded.")
            % {"kind": outcome.result.get_kind_display(), "amount": f"{form.cleaned_data['amount']:,.2f}"},
        )
        return redirect("riskfund:fund_detail", pk=fund.pk)
    return render(
        request, "riskfund/fund_detail.html", _detail_context(request, fund, form=form), status=outcome.status
    )


@login_required
@require_POST
def transaction_reverse(request, pk, txn_pk):
    fund = selectors.fund_get(request.user, pk)
    if not ledger.is_fund_finance(request.user, fund):
        raise PermissionDenied
    txn = selectors.transaction_get(fund, txn_pk)
    form = ReverseForm(request.POST)
    outcome = run_form_step(
        form,
        lambda data: ledger.transaction_reverse(acting_user=request.user, txn=txn, reason=data["reason"]),
        default_field="reason",
    )
    if outcome.ok:
        messages.success(request, _("Transaction #%(no)d was reversed.") % {"no": txn.pk})
    else:
        errors = [str(e) for errs in form.errors.values() for e in errs]
        messages.error(
            request,
            _("Transaction #%(no)d was not reversed: %(why)s") % {"no": txn.pk, "why": " ".join(errors)},
        )
    return redirect("riskfund:fund_detail", pk=fund.pk)


# ---- a new fund -------------------------------------------------------------------------------


class FundForm(forms.Form):
    bank = forms.ModelChoiceField(label=gettext_lazy("co-operating bank"), queryset=None)
    name = forms.CharField(label=gettext_lazy("name"), max_length=100)
    account_no = forms.CharField(label=gettext_lazy("co-managed account number"), max_length=40)
    opened_on = forms.DateField(label=gettext_lazy("opened on"), widget=DATE_INPUT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bank"].queryset = selectors.bank_choices()


@login_required
def fund_create(request):
    if not fund_services.can_create_fund(request.user):
        raise PermissionDenied
    county: OrgUnit = request.user.unit
    form = FundForm(request.POST or None, initial={"opened_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda data: fund_services.fund_create(acting_user=request.user, county=county, **data)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The fund %(name)s was recorded.") % {"name": outcome.result.name})
            return redirect("riskfund:fund_detail", pk=outcome.result.pk)
    return render(request, "riskfund/fund_form.html", {"form": form, "county": county}, status=status)


# ---- the statement ----------------------------------------------------------------------------


class PeriodForm(forms.Form):
    start = forms.DateField(label=pgettext_lazy("statement period", "from"), widget=DATE_INPUT)
    end = forms.DateField(label=pgettext_lazy("statement period", "to"), widget=DATE_INPUT)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end of the period comes on or after its start."))
        return data


def _current_quarter(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    first_month = (today.month - 1) // 3 * 3 + 1
    start = today.replace(month=first_month, day=1)
    end_month = first_month + 2
    next_first = (
        datetime.date(today.year + 1, 1, 1)
        if end_month == 12
        else datetime.date(today.year, end_month + 1, 1)
    )
    return start, next_first - datetime.timedelta(days=1)


@login_required
def statement(request, pk):
    fund = selectors.fund_get(request.user, pk)
    start, end = _current_quarter(timezone.localdate())
    form = PeriodForm(request.GET if "start" in request.GET else None, initial={"start": start, "end": end})
    status = 200
    if form.is_bound:
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        else:
            status = 400
    figures = statements.statement(fund, start=start, end=end)
    fmt = request.GET.get("format", "")
    if status == 200 and fmt in ("xlsx", "pdf"):
        filename = f"{fund.name}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
        if fmt == "xlsx":
            response = HttpResponse(statements.statement_xlsx(figures), content_type=XLSX)
        else:
            response = HttpResponse(statements.statement_pdf(figures), content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
    query = f"start={start:%Y-%m-%d}&end={end:%Y-%m-%d}"
    base = reverse("riskfund:statement", args=[fund.pk])
    context = {
        "fund": fund,
        "form": form,
        "s": figures,
        "xlsx_url": f"{base}?{query}&format=xlsx",
        "pdf_url": f"{base}?{query}&format=pdf",
    }
    return render(request, "riskfund/statement.html", context, status=status)
