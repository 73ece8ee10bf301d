"""Pages for taking a household off the blacklist with four eyes (ASVS V2.3.5; P1 art.22): one
keeper asks (the debt is settled, or a stated exception), a second keeper of the same area
approves or rejects. Lookups go through scoped selectors, so another area's request is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError, NotPermitted

from . import selectors
from .models import BlacklistRemovalRequest
from .permissions import can_keep_blacklist
from .services import blacklist as blacklist_services
from .views import _page, _place_error, _require

STATE_FILTERS = [*BlacklistRemovalRequest.State.values, "all"]


class RemovalRequestForm(forms.Form):
    basis = forms.ChoiceField(
        label=gettext_lazy("basis"),
        choices=BlacklistRemovalRequest.Basis.choices,
        initial=BlacklistRemovalRequest.Basis.SETTLED,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("reason for removal"), widget=forms.Textarea(attrs={"rows": 4})
    )


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason for rejecting"), widget=forms.Textarea(attrs={"rows": 3})
    )


@login_required
def removal_request_create(request, pk):
    household = selectors.household_get(user=request.user, pk=pk)
    _require(can_keep_blacklist(request.user))
    entry = selectors.active_blacklist_entry(household)
    if entry is None:
        messages.warning(request, _("Household %(no)s is not on the blacklist.") % {"no": household})
        return redirect("households:detail", pk=household.pk)
    pending = selectors.pending_removal_request(entry)
    if pending is not None:
        messages.info(request, _("A removal of this household is already awaiting approval."))
        return redirect("households:blacklist_removal_detail", pk=pending.pk)
    form = RemovalRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            removal = blacklist_services.blacklist_removal_request(
                acting_user=request.user, entry=entry, **form.cleaned_data
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(
                request,
                _(
                    "Removal of household %(no)s requested. It stays on the blacklist until another "
                    "keeper approves."
                )
                % {"no": household},
            )
            return redirect("households:blacklist_removal_detail", pk=removal.pk)
    return render(
        request,
        "households/blacklist_removal_request.html",
        {
            "household": household,
            "entry": entry,
            "form": form,
            "head": selectors.head_of(household),
            "unsettled": blacklist_services.blacklist_unsettled_loans(household),
        },
    )


@login_required
def removal_request_list(request):
    state = request.GET.get("state", BlacklistRemovalRequest.State.PENDING)
    if state not in STATE_FILTERS:
        state = BlacklistRemovalRequest.State.PENDING
    qs = selectors.blacklist_removal_requests(user=request.user, state=None if state == "all" else state)
    page = _page(request, qs)
    return render(
        request,
        "households/blacklist_removal_list.html",
        {
            "page_obj": page,
            "state": state,
            "states": [(s, label) for s, label in BlacklistRemovalRequest.State.choices]
            + [("all", _("All"))],
            "can_decide": can_keep_blacklist(request.user),
        },
    )


def _detail(request, removal, *, approve_form=None, reject_form=None, status=200):
    user = request.user
    may_decide = (
        can_keep_blacklist(user)
        and removal.state == BlacklistRemovalRequest.State.PENDING
        and removal.requested_by_id != user.pk
    )
    return render(
        request,
        "households/blacklist_removal_detail.html",
        {
            "removal": removal,
            "entry": removal.entry,
            "household": removal.entry.household,
            "may_decide": may_decide,
            "own_request": removal.requested_by_id == user.pk,
            "unsettled": blacklist_services.blacklist_unsettled_loans(removal.entry.household),
            "approve_form": approve_form or DecisionForm(),
            "reject_form": reject_form or RejectForm(),
        },
        status=status,
    )


@login_required
def removal_request_detail(request, pk):
    return _detail(request, selectors.blacklist_removal_request(user=request.user, pk=pk))


@login_required
@require_POST
def removal_request_approve(request, pk):
    removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
    _require(can_keep_blacklist(request.user))
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            blacklist_services.blacklist_removal_approve(
                acting_user=request.user, removal=removal, comment=form.cleaned_data["comment"]
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(
                request,
                _("Household %(no)s was removed from the blacklist.") % {"no": removal.entry.household},
            )
            return redirect("households:detail", pk=removal.entry.household_id)
    removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
    return _detail(request, removal, approve_form=form)


@login_required
@require_POST
def removal_request_reject(request, pk):
    removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
    _require(can_keep_blacklist(request.user))
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            blacklist_services.blacklist_removal_reject(
                acting_user=request.user, removal=removal, reason=form.cleaned_data["reason"]
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(
                request,
                _("The removal was rejected; household %(no)s stays on the blacklist.")
                % {"no": removal.entry.household},
            )
            return redirect("households:blacklist_removal_detail", pk=removal.pk)
    removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
    return _detail(request, removal, reject_form=form)
