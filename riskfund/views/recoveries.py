"""Pages for recoveries (DOMAIN §8; P1 art.40): the list of recoveries with the return of the fund's
share (tabs: not returned yet, late, returned; days late for each), where finance records a
return; recording a recovery on a paid claim (the bank's loan officers, from the claim's page or
its own form). The rules, roles, locks and audit are in services/recoveries.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role
from core.forms import DateInput
from core.pages import run_form_step

from .. import selectors
from ..services import recoveries as recovery_services

PAGE_SIZE = 20
MONEY = {"max_digits": 14, "decimal_places": 2}
# An <input type="date"> takes ISO dates only, whatever the language.
# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()
TAB_LABELS = {
    "due": gettext_lazy("Not returned yet"),
    "late": gettext_lazy("Late"),
    "returned": gettext_lazy("Returned"),
}


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("amount recovered (yuan)"), min_value=0, **MONEY)
    received_on = forms.DateField(label=gettext_lazy("received on"), widget=DATE_INPUT)
    note = forms.CharField(
        label=gettext_lazy("note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Where the money came from (collateral sold, a guarantor, the borrower)."),
    )


class ReturnForm(forms.Form):
    returned_on = forms.DateField(label=gettext_lazy("returned to the fund on"), widget=DATE_INPUT)


def with_days_late(recoveries, today):
    """The recoveries as a list, each with `days_late` (calendar days after the due day)."""
    rows = list(recoveries)
    for r in rows:
        r.days_late = selectors.days_late(r, today)
    return rows


@login_required
def recovery_list(request):
    tab = request.GET.get("tab", "")
    if tab not in selectors.RECOVERY_TABS:
        tab = ""
    today = timezone.localdate()
    qs = selectors.recovery_list(request.user, tab=tab, today=today)
    page_obj = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.recovery_tab_counts(request.user, today=today)
    context = {
        "page_obj": page_obj,
        "recoveries": with_days_late(page_obj.object_list, today),
        "tab": tab,
        "tabs": [(key, TAB_LABELS[key], counts[key]) for key in selectors.RECOVERY_TABS],
        "total": counts["all"],
        "today": today,
        # The list is scoped to the user's county, so finance there keeps these funds' ledgers.
        "can_return": request.user.has_role(Role.FINANCE),
    }
    return render(request, "riskfund/recovery_list.html", context)


@login_required
def recovery_create(request, claim_pk):
    """The form on its own page (GET) and the claim page's form posts here too."""
    claim = selectors.recovery_claim_get(request.user, claim_pk)
    if not recovery_services.is_claim_bank_officer(request.user, claim):
        raise PermissionDenied
    form = RecoveryForm(request.POST or None, initial={"received_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form,
            lambda data: recovery_services.recovery_record(acting_user=request.user, claim=claim, **data),
        )
        status = outcome.status
        if outcome.ok:
            r = outcome.result
            messages.success(
                request,
                _(
                    "Recovery of %(amount)s yuan recorded; the fund's share of %(share)s yuan is due back "
                    "by %(due)s."
                )
                % {"amount": f"{r.amount:,.2f}", "share": f"{r.fund_share:,.2f}", "due": r.due_on},
            )
            return redirect(_claim_url(claim))
    context = {
        "claim": claim,
        "form": form,
        "recoveries": with_days_late(selectors.claim_recoveries(claim), timezone.localdate()),
        "recovered": recovery_services.recovered_total(claim),
        "back": _claim_url(claim),
    }
    return render(request, "riskfund/recovery_form.html", context, status=status)


@login_required
def recovery_return(request, pk):
    recovery = selectors.recovery_get(request.user, pk)
    if not recovery_services.is_return_recorder(request.user, recovery):
        raise PermissionDenied
    form = ReturnForm(request.POST or None, initial={"returned_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form,
            lambda data: recovery_services.recovery_return(
                acting_user=request.user, recovery=recovery, returned_on=data["returned_on"]
            ),
        )
        status = outcome.status
        if outcome.ok:
            messages.success(
                request,
                _("The fund's share of %(share)s yuan is back in the fund.")
                % {"share": f"{recovery.fund_share:,.2f}"},
            )
            return redirect(reverse("riskfund:recovery_list") + "?tab=returned")
    recovery.days_late = selectors.days_late(recovery)
    return render(
        request, "riskfund/recovery_return_form.html", {"recovery": recovery, "form": form}, status=status
    )


def _claim_url(claim) -> str:
    return reverse("riskfund:claim_detail", args=[claim.pk])
