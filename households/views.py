"""Pages for households, ratings and the blacklist. Views read through selectors, write through
services, and put a service's error next to the field it names."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError, NotPermitted
from core.pages import place_error, place_messages
from policies.selectors import county_of, profile_for

from . import selectors
from .forms import (
    HouseholdFilterForm,
    HouseholdForm,
    IdentityCorrectionForm,
    MemberFormSet,
    RatingForm,
    ReasonForm,
)
from .models import CreditRating
from .permissions import can_edit_households, can_keep_blacklist, can_rate, can_see_full_id
from .services import blacklist as blacklist_services
from .services import households as household_services
from .services import ratings as rating_services

PAGE_SIZE = 20


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _place_error(exc: ApplicationError, form, member_forms=None, member_errors=None) -> None:
    """Show a service's error where it belongs: a member's field (``members: {"<index>":
    {"id_number": [...]}}`` in `extra.fields`, or `exc.field` ``members.<index>.<name>``) on that
    member's form, `member_forms[i]` being the form of the i-th member given to the service;
    everything else where `core.pages.place_error` puts it (by `extra.fields`, else by
    `exc.field`, else at the top of the form)."""
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if not fields and (exc.field or "").startswith("members."):
        _members, index, name = (exc.field.split(".") + ["", ""])[:3]
        fields = {"members": {index: {name: [exc.message]}}}
    if member_errors is None or not isinstance(fields, dict) or "members" not in fields:
        place_error(form, exc)
        return
    _place_member_errors(fields["members"], member_forms or [], member_errors)
    place_messages(form, {key: msgs for key, msgs in fields.items() if key != "members"})


def _place_member_errors(members, member_forms, member_errors: list) -> None:
    if not isinstance(members, dict):
        member_errors.extend(str(m) for m in members)
        return
    for index, item in members.items():
        i = int(index) if str(index).isdigit() else -1
        for name, msgs in item.items():
            if 0 <= i < len(member_forms):
                place_messages(member_forms[i], {name: msgs})
            else:
                member_errors.extend(str(m) for m in msgs)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# ---------------------------------------------------------------------------------------------
# Households
# ---------------------------------------------------------------------------------------------


@login_required
def household_list(request):
    filters = HouseholdFilterForm(request.GET or None, user=request.user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    village = criteria.get("village")
    sorting = selectors.HOUSEHOLD_SORTS.read(request.GET)
    qs = selectors.household_search(
        user=request.user,
        q=criteria.get("q", ""),
        village_id=village.pk if village else None,
        status=criteria.get("status", ""),
        grade=criteria.get("grade", ""),
        can_apply=bool(criteria.get("can_apply")),
        sorting=sorting,
    )
    page = _page(request, qs)
    rows = [
        {
            "household": h,
            "head": selectors.head_of(h),
            "rating": selectors.current_rating(h),
            "blacklisted": selectors.active_blacklist_entry(h) is not None,
        }
        for h in page.object_list
    ]
    return render(
        request,
        "households/list.html",
        {
            "filters": filters,
            "sorting": sorting,
            "page_obj": page,
            "rows": rows,
            "can_create": can_edit_households(request.user),
            "can_export_full": can_see_full_id(request.user),
        },
    )


@login_required
def household_detail(request, pk):
    household = selectors.household_detail(user=request.user, pk=pk)
    user = request.user
    today = timezone.localdate()
    # Masked here for everyone: a full number is shown only through the explicit, audited
    # "show full number" action (DOMAIN §2).
    locked = selectors.identity_locked_ids(m.pk for m in household.members.all())
    members = [
        {"member": m, "age": m.age_on(today), "locked": m.pk in locked} for m in household.members.all()
    ]
    entry = selectors.active_blacklist_entry(household)
    keeper = can_keep_blacklist(user)
    return render(
        request,
        "households/detail.html",
        {
            "household": household,
            "members": members,
            "rating": selectors.current_rating(household),
            "ratings": household.ratings.all(),
            "blacklist_entry": entry,
            "blacklist_history": household.blacklist_entries.all(),
            "can_edit": can_edit_households(user),
            "can_see_full_id": can_see_full_id(user),
            "can_correct_identity": household_services.can_correct_identity(user),
            "can_rate": can_rate(user, household),
            "can_blacklist_add": keeper and entry is None,
            "can_blacklist_remove": keeper and entry is not None,
            "today": today,
        },
    )


def _member_initial(household) -> list[dict]:
    """The members as the edit form starts: the ID number empty with the masked one shown (the
    stored number stays unless a new one is typed), so opening the form reveals no full number;
    a locked borrower's name and number cannot be edited here at all."""
    locked = selectors.identity_locked_ids(m.pk for m in household.members.all())
    return [
        {
            "id": m.pk,
            "name": m.name,
            "id_number": "",
            "masked": m.id_number_masked,
            "locked": m.pk in locked,
            "relation": m.relation,
            "is_head": m.is_head,
            "phone": m.phone,
            "labour_capacity": m.labour_capacity,
        }
        for m in household.members.all()
    ]


def _members_from(formset) -> tuple[list[dict], list]:
    """The members to save and, at the same positions, the forms they came from (so an error
    about member 2 lands on the form of member 2). Blank extra rows and deleted rows are left out."""
    data, forms = [], []
    for form in formset.forms:
        if formset._should_delete_form(form) or not form.cleaned_data:
            continue
        data.append(form.member_data())
        forms.append(form)
    return data, forms


def _household_form_page(request, household=None):
    user = request.user
    _require(can_edit_households(user))
    initial = _member_initial(household) if household else None
    # Binding the form changes the instance in memory; the page title keeps the stored number.
    original_no = household.registration_no if household else ""
    member_errors: list[str] = []
    if request.method == "POST":
        form = HouseholdForm(request.POST, instance=household, user=user)
        formset = MemberFormSet(request.POST, prefix="members", initial=initial)
        # Both are checked (no short-circuit), so a form without members says so next to the
        # members section even while household fields are wrong too.
        form_ok, members_ok = form.is_valid(), formset.is_valid()
        if form_ok and members_ok:
            members, member_forms = _members_from(formset)
            fields = {
                f: form.cleaned_data[f] for f in household_services.HOUSEHOLD_FIELDS if f in form.cleaned_data
            }
            try:
                if household is None:
                    saved = household_services.household_create(acting_user=user, members=members, **fields)
                    messages.success(
                        request, _("Household %(no)s was created.") % {"no": saved.registration_no}
                    )
                else:
                    saved = household_services.household_update(
                        acting_user=user, household=household, members=members, **fields
                    )
                    messages.success(
                        request, _("Household %(no)s was saved.") % {"no": saved.registration_no}
                    )
                return redirect("households:detail", pk=saved.pk)
            except NotPermitted as e:
                raise PermissionDenied(e.message) from None
            except ApplicationError as e:
                # The service rolled back everything; the page shows why, next to the field.
                _place_error(e, form, member_forms, member_errors)
    else:
        form = HouseholdForm(instance=household, user=user)
        formset = MemberFormSet(prefix="members", initial=initial)
    member_errors += [str(e) for e in formset.non_form_errors()]
    return render(
        request,
        "households/form.html",
        {
            "form": form,
            "formset": formset,
            "household": household,
            "original_no": original_no,
            "member_errors": member_errors,
        },
    )


@login_required
def household_create(request):
    return _household_form_page(request)


@login_required
def household_edit(request, pk):
    household = selectors.household_detail(user=request.user, pk=pk)
    return _household_form_page(request, household)


# ---------------------------------------------------------------------------------------------
# A member's full ID number and its correction
# ---------------------------------------------------------------------------------------------


@login_required
@never_cache
@require_POST
def member_id_number(request, pk, member_pk):
    """Show one member's full ID number: an explicit action (a button that posts), recorded in
    the audit log each time (DOMAIN §2). The page is not cached, so the number is not kept in
    the browser's history."""
    household = selectors.household_get(user=request.user, pk=pk)
    member = selectors.member_get(household=household, pk=member_pk)
    _require(can_see_full_id(request.user))
    numbers = household_services.member_id_numbers_reveal(
        acting_user=request.user, members=[member], via="page"
    )
    return render(
        request,
        "households/member_id_number.html",
        {"household": household, "member": member, "id_number": numbers[member.pk]},
    )


@login_required
def member_correct(request, pk, member_pk):
    """An administrator corrects a member's name or ID number, with a reason (DOMAIN §2)."""
    household = selectors.household_get(user=request.user, pk=pk)
    member = selectors.member_get(household=household, pk=member_pk)
    _require(household_services.can_correct_identity(request.user))
    form = IdentityCorrectionForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            household_services.member_identity_correct(
                acting_user=request.user,
                member=member,
                name=form.cleaned_data["name"],
                id_number=form.cleaned_data["id_number"],
                reason=form.cleaned_data["reason"],
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(
                request,
                _("The identity of %(name)s was corrected; the change is recorded with your reason.")
                % {"name": form.cleaned_data["name"] or member.name},
            )
            return redirect("households:detail", pk=household.pk)
    locked = member.pk in selectors.identity_locked_ids([member.pk])
    return render(
        request,
        "households/member_correct.html",
        {"household": household, "member": member, "form": form, "locked": locked},
    )


# ---------------------------------------------------------------------------------------------
# Ratings
# ---------------------------------------------------------------------------------------------


def _bands_for_preview(profile) -> list[dict]:
    return [
        {"grade": b.grade, "min": b.min_score, "line": f"{b.credit_limit:,.2f}"}
        for b in rating_services.grade_bands(profile)
    ]


def _bands_text(bands: list[dict]) -> str:
    """The bands as one sentence, punctuated for the language (；and 。in Chinese)."""
    parts = [
        _("%(grade)s (%(min)d points or more): credit line %(line)s yuan")
        % {"grade": b["grade"], "min": b["min"], "line": b["line"]}
        for b in bands
    ]
    if bands:
        parts.append(_("below %(min)d points: not rated, no credit line") % {"min": bands[-1]["min"]})
    return _("Bands: %(bands)s. The system computes the final result when you save.") % {
        "bands": pgettext("list separator", "; ").join(parts)
    }


@login_required
def household_rate(request, pk):
    household = selectors.household_get(user=request.user, pk=pk)
    _require(can_rate(request.user, household))
    context = {"household": household, "head": selectors.head_of(household)}
    try:
        profile = profile_for(county=county_of(household.village), on_date=timezone.localdate())
    except ApplicationError as e:
        return render(request, "households/rate.html", {**context, "profile_error": e.message})
    form = RatingForm(request.POST or None, profile=profile)
    if request.method == "POST" and form.is_valid():
        scores = {f: form.cleaned_data[f] for f, _max in rating_services.DIMENSIONS}
        try:
            rating = rating_services.rating_create(
                acting_user=request.user,
                household=household,
                valid_from=form.cleaned_data["valid_from"],
                comment=form.cleaned_data["comment"],
                **scores,
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(
                request,
                _("Rated %(score)d points: grade %(grade)s, credit line %(line)s yuan, valid until %(to)s.")
                % {
                    "score": rating.score,
                    "grade": rating.get_grade_display(),
                    "line": f"{rating.credit_limit:,.2f}",
                    "to": rating.valid_to,
                },
            )
            return redirect("households:detail", pk=household.pk)
    bands = _bands_for_preview(profile)
    return render(
        request,
        "households/rate.html",
        {
            **context,
            "form": form,
            "profile": profile,
            "dimension_fields": [form[f] for f, _max in rating_services.DIMENSIONS],
            "other_fields": [form["valid_from"], form["comment"]],
            "bands_text": _bands_text(bands),
            "preview": {
                "bands": bands,
                "none_label": str(CreditRating.Grade.NONE.label),
                "none_line": _("no credit line"),
                "total_max": profile.score_total,
            },
        },
    )


# ---------------------------------------------------------------------------------------------
# Blacklist
# ---------------------------------------------------------------------------------------------


@login_required
def blacklist_add(request, pk):
    household = selectors.household_get(user=request.user, pk=pk)
    _require(can_keep_blacklist(request.user))
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            blacklist_services.blacklist_add(
                acting_user=request.user, household=household, reason=form.cleaned_data["reason"]
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            _place_error(e, form)
        else:
            messages.success(request, _("Household %(no)s is now on the blacklist.") % {"no": household})
            return redirect("households:detail", pk=household.pk)
    return render(
        request,
        "households/blacklist_form.html",
        {"household": household, "form": form, "adding": True, "head": selectors.head_of(household)},
    )


@login_required
def blacklist(request):
    qs = selectors.blacklist_entries(user=request.user, active=True, with_members=True)
    page = _page(request, qs)
    rows = [{"entry": e, "head": selectors.head_of(e.household)} for e in page.object_list]
    return render(
        request,
        "households/blacklist_list.html",
        {"page_obj": page, "rows": rows, "can_remove": can_keep_blacklist(request.user)},
    )
