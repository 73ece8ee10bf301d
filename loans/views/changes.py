"""Pages for changes after disbursement: extension request and decision, renewal and additional
loan applications, malicious default, borrower events and insurance. The rules are in
changes.py and borrowers.py; these views handle the forms and the answer. A loan outside the user's area is a
404, a role that may not act a 403."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role
from core.exceptions import ApplicationError
from core.forms import DateInput
from core.pages import run_form_step

from .. import selectors
from ..models import BorrowerEvent, InsurancePolicy, Loan
from ..permissions import require_servicer
from ..purposes import Purpose
from ..services import borrowers, changes

MONEY = {"max_digits": 12, "decimal_places": 2}
# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()


def _loan(request, pk) -> Loan:
    return selectors.loan_get(user=request.user, pk=pk)


def _page(request, loan, form, *, title, intro="", status=200, **extra):
    return render(
        request,
        "loans/change_form.html",
        {"loan": loan, "form": form, "title": title, "intro": intro, **extra},
        status=status,
    )


# ---- extension ------------------------------------------------------------------------------------


class ExtensionRequestForm(forms.Form):
    months = forms.IntegerField(label=gettext_lazy("extension (months)"), min_value=1)
    reason = forms.CharField(label=gettext_lazy("reason the borrower cannot repay"), widget=forms.Textarea)


@login_required
def extension_request(request, pk):
    loan = _loan(request, pk)
    if not changes.can_request_extension(request.user, loan):
        raise PermissionDenied
    form = ExtensionRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: changes.extension_request(acting_user=request.user, loan=loan, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The extension was requested; an approver decides on it."))
            return redirect("loans:change_extension_request", pk=loan.pk)
    return _page(
        request,
        loan,
        form,
        title=_("Request an extension (展期)"),
        intro=_(
            "Only once, for a borrower who cannot repay for reasons beyond their control. A loan of a year "
            "or less is extended at most a year, a longer loan at most half its term. Cooperative or "
            "entrusted loans and blacklisted households cannot be extended."
        ),
        status=status,
        extensions=selectors.extension_list(loan=loan),
        obstacles=changes.extension_obstacles(loan) if request.method == "GET" else [],
    )


def _can_decide(user) -> bool:
    return user.has_role(Role.APPROVER)


class ExtensionDecideForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=gettext_lazy("decision"),
        choices=[("1", gettext_lazy("Approve")), ("0", gettext_lazy("Reject"))],
        coerce=lambda v: v == "1",
    )
    comment = forms.CharField(label=gettext_lazy("decision comment"), required=False)


@login_required
def extension_queue(request):
    """Requested extensions of loans in the approver's area, oldest first, each with its form."""
    if not _can_decide(request.user):
        raise PermissionDenied
    return render(
        request,
        "loans/change_extension_queue.html",
        {"extensions": changes.extensions_to_decide(user=request.user), "form": ExtensionDecideForm()},
    )


@login_required
def extension_decide(request, pk):
    if not _can_decide(request.user):
        raise PermissionDenied
    extension = selectors.extension_get(user=request.user, pk=pk)
    if request.method != "POST":
        return redirect("loans:change_extension_queue")
    form = ExtensionDecideForm(request.POST)
    if form.is_valid():
        try:
            changes.extension_decide(acting_user=request.user, extension=extension, **form.cleaned_data)
        except ApplicationError as e:
            # Four-eyes and "already decided" are worth reading, not a bare 403 page.
            messages.error(request, str(e.message))
        else:
            if form.cleaned_data["approve"]:
                messages.success(request, _("The extension was approved and the maturity moved."))
            else:
                messages.success(request, _("The extension was rejected."))
    else:
        messages.error(request, _("Choose approve or reject."))
    return redirect("loans:change_extension_queue")


# ---- renewal and additional loans -----------------------------------------------------------------


class FollowUpForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("amount (yuan)"), min_value=0, **MONEY)
    term_months = forms.IntegerField(label=gettext_lazy("term (months)"), min_value=1)
    purpose_category = forms.ChoiceField(label=gettext_lazy("purpose"), choices=Purpose.choices)
    purpose_detail = forms.CharField(label=gettext_lazy("project description"), required=False)
    bank_account_no = forms.CharField(label=gettext_lazy("account at the lending bank"), max_length=40)
    capacity_attested = forms.BooleanField(
        label=gettext_lazy("borrower has full civil capacity and labour or business capacity"), required=False
    )
    consent_publicity = forms.BooleanField(
        label=gettext_lazy("borrower consents to publicity"), required=False
    )
    consent_credit_query = forms.BooleanField(
        label=gettext_lazy("borrower consents to the credit report query"), required=False
    )


def _follow_up(request, pk, *, service, title, intro, done_message):
    loan = _loan(request, pk)
    if not changes.can_start_follow_up(request.user, loan):
        raise PermissionDenied
    initial = {
        "amount": loan.outstanding,
        "term_months": loan.term_months,
        "purpose_category": loan.purpose_category,
    }
    if loan.application_id:
        initial["bank_account_no"] = loan.application.bank_account_no
    form = FollowUpForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(form, lambda d: service(acting_user=request.user, loan=loan, **d))
        status = outcome.status
        if outcome.ok:
            messages.success(request, done_message)
            return redirect(reverse("loans:application_detail", args=[outcome.result.pk]))
    obstacles = []
    if request.method == "GET" and service is changes.renewal_start:
        obstacles = changes.renewal_obstacles(loan)
    return _page(request, loan, form, title=title, intro=intro, status=status, obstacles=obstacles)


@login_required
def renewal_start(request, pk):
    return _follow_up(
        request,
        pk,
        service=changes.renewal_start,
        title=_("Start a renewal (续贷)"),
        intro=_(
            "A renewal replaces the outstanding principal without repaying it, only once and for at most "
            "36 months, and goes through village review and publicity again. Cooperative or entrusted "
            "loans and blacklisted households cannot be renewed."
        ),
        done_message=_("The renewal application was created as a draft; submit it for village review."),
    )


@login_required
def additional_start(request, pk):
    return _follow_up(
        request,
        pk,
        service=changes.additional_start,
        title=_("Start an additional loan (追加贷款)"),
        intro=_("An additional loan to the same borrower, within the household's cap."),
        done_message=_("The additional loan application was created as a draft."),
    )


# ---- malicious default ----------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea)


@login_required
def malicious_default(request, pk):
    loan = _loan(request, pk)
    if not request.user.has_role(Role.LOAN_OFFICER, Role.COUNTY_OFFICE):
        raise PermissionDenied
    form = ReasonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: borrowers.loan_mark_malicious_default(acting_user=request.user, loan=loan, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The household was put on the blacklist."))
            return redirect("loans:change_insurance", pk=loan.pk)
    return _page(
        request,
        loan,
        form,
        title=_("Mark a malicious default (恶意逃债)"),
        intro=_("The household goes on the blacklist, which blocks new loans, renewals and subsidies."),
        status=status,
    )


# ---- borrower events and insurance --------------------------------------------------------------------


class BorrowerEventForm(forms.Form):
    member = forms.ModelChoiceField(label=gettext_lazy("member"), queryset=None)
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=BorrowerEvent.Kind.choices)
    occurred_on = forms.DateField(label=gettext_lazy("occurred on"), widget=DATE_INPUT)
    note = forms.CharField(label=gettext_lazy("note"), required=False, widget=forms.Textarea)

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = household.members.all()


@login_required
def borrower_event(request, pk):
    loan = _loan(request, pk)
    require_servicer(request.user, page=True)
    form = BorrowerEventForm(
        request.POST or None, household=loan.household, initial={"member": loan.borrower}
    )
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: borrowers.borrower_event_record(acting_user=request.user, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The event was recorded."))
            return redirect("loans:change_insurance", pk=loan.pk)
    return _page(
        request,
        loan,
        form,
        title=_("Record a death or disability"),
        status=status,
        events=selectors.borrower_events(household=loan.household),
    )


class InsurancePolicyForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=InsurancePolicy.Kind.choices)
    insurer = forms.CharField(label=gettext_lazy("insurer"), max_length=100)
    policy_no = forms.CharField(label=gettext_lazy("policy number"), max_length=64)
    premium = forms.DecimalField(label=gettext_lazy("premium"), min_value=0, **MONEY)
    fiscal_paid = forms.BooleanField(label=gettext_lazy("premium paid with fiscal money"), required=False)
    starts_on = forms.DateField(label=gettext_lazy("starts on"), widget=DATE_INPUT)
    ends_on = forms.DateField(label=gettext_lazy("ends on"), widget=DATE_INPUT)


@login_required
def insurance(request, pk):
    """The loan's policies with their payouts, and the form for a new policy."""
    loan = _loan(request, pk)
    require_servicer(request.user, page=True)
    form = InsurancePolicyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: borrowers.insurance_policy_add(acting_user=request.user, loan=loan, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The insurance policy was recorded."))
            return redirect("loans:change_insurance", pk=loan.pk)
    policies = selectors.insurance_policies(loan=loan)
    return render(
        request,
        "loans/change_insurance.html",
        {"loan": loan, "form": form, "policies": policies},
        status=status,
    )


class PayoutForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("amount paid"), **MONEY)
    paid_on = forms.DateField(label=gettext_lazy("paid on"), widget=DATE_INPUT)
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea)


@login_required
def insurance_payout(request, policy_pk):
    policy = selectors.insurance_policy_get(user=request.user, pk=policy_pk)
    require_servicer(request.user, page=True)
    form = PayoutForm(request.POST or None, initial={"paid_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: borrowers.insurance_payout_record(acting_user=request.user, policy=policy, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The insurance payout was recorded."))
            return redirect("loans:change_insurance", pk=policy.loan_id)
    return _page(
        request,
        policy.loan,
        form,
        title=_("Record an insurance payout"),
        intro=_("The payouts on a policy together never exceed the loan's amount."),
        status=status,
    )


# ---- the borrower's account -----------------------------------------------------------------------


class AccountForm(forms.Form):
    account_no = forms.CharField(
        label=gettext_lazy("borrower's account number"),
        max_length=40,
        help_text=gettext_lazy(
            "The account at the lending bank that interest is debited from and the subsidy paid to."
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("where the account comes from"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Where the account comes from, e.g. the borrower's bank card or the core system."
        ),
    )


@login_required
def account(request, pk):
    """Record or correct the borrower's account on a loan (the subsidy is paid to it)."""
    loan = _loan(request, pk)
    require_servicer(request.user, page=True)
    form = AccountForm(request.POST or None, initial={"account_no": loan.account_no})
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda d: borrowers.loan_account_set(acting_user=request.user, loan=loan, **d)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The account was recorded."))
            return redirect("loans:book_detail", pk=loan.pk)
    return _page(
        request,
        loan,
        form,
        title=_("Borrower's account"),
        intro=_(
            "The subsidy is paid to this account: a subsidy batch is not reviewed while a loan it pays has "
            "no account."
        ),
        status=status,
    )
