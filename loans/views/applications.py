"""Pages for loan applications: the cadre's form with its live eligibility panel, the list, and
one application with the simple steps (submit, village review, withdraw, decline, reject,
return). The publicity pages are in publicity.py, the bank's queues and forms in bank.py. Views
read through selectors, write through services, show only the steps `available_transitions`
offers this user now, and put every rule failure next to its field or in a rule list with its
source."""

from __future__ import annotations

import mimetypes
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Role
from core.exceptions import ApplicationError
from core.pages import NOT_POSTED, run_form_step
from households import selectors as household_selectors
from policies.selectors import county_of, profile_for

from .. import eligibility, eligibility_facts, selectors, steps, waiting
from ..choices import UseMode
from ..forms import ApplicationFilterForm, ApplicationForm
from ..models import PublicityNotice
from ..services import applications
from ..workflow import FINAL_STATES, State
from .application_parts import (
    application_report,
    can_apply_for,
    comment_form,
    four_eyes,
    page_of,
    place_rule_error,
    progress,
    report_dict,
    require,
    step_gate,
    steps_for,
    summary_context,
    to_int,
    unfilled,
)

ZERO = Decimal("0.00")
# Notices are listed village → township → county on the application page.
LEVELS = list(PublicityNotice.Level.values)


def _money(value) -> Decimal | None:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _household_panel(household, application=None) -> dict:
    """What the cadre needs to know before typing an amount: the rating, the line, what the
    household already owes or has applied for, and what is left under the line and under the
    household cap. The figures come from the eligibility rules' own `household_load`, so the
    page and the rules count the same loans (a renewal's old loan, for one)."""
    today = timezone.localdate()
    rating = household_selectors.current_rating(household, today)
    valid = rating is not None and rating.is_valid_on(today)
    panel = {"rating": rating, "rating_valid": valid, "head": household_selectors.head_of(household)}
    try:
        profile = profile_for(county=county_of(household.village), on_date=today)
    except ApplicationError as e:
        panel["profile_error"] = e.message
        return panel
    load = eligibility_facts.household_load(household=household, application=application)
    cap = profile.household_total_max
    headroom = max(cap - load.total, ZERO)
    line = rating.credit_limit if valid else ZERO
    # The line is cumulative like the cap (DOMAIN §3 "amount"): what is left of it, not all of it.
    line_headroom = max(line - load.total, ZERO)
    panel.update(
        profile=profile,
        outstanding=load.outstanding,
        applied=load.applied,
        cap=cap,
        headroom=headroom,
        line_headroom=line_headroom,
        max_amount=max(min(line_headroom, profile.amount_max, headroom), ZERO),
    )
    return panel


def _may_borrow_by_age(household, member) -> bool:
    if member is None:
        return False
    today = timezone.localdate()
    try:
        profile = profile_for(county=county_of(household.village), on_date=today)
    except ApplicationError:
        return False
    return profile.age_min <= member.age_on(today) <= profile.age_max


def _evaluate_data(household, data, application=None):
    """The rules for what the form holds now, typed or not yet (the live panel)."""
    borrower = None
    borrower_id = to_int(data.get("borrower"))
    if borrower_id is not None:
        borrower = next((m for m in household.members.all() if m.pk == borrower_id), None)
    if borrower is None:
        return None
    today = timezone.localdate()
    return eligibility.evaluate(
        household=household,
        borrower=borrower,
        amount=_money(data.get("amount", "")),
        term_months=to_int(data.get("term_months")) or 0,
        purpose_category=data.get("purpose_category", ""),
        on_date=today,
        applied_on=eligibility_facts.application_date(application, today),
        use_mode=data.get("use_mode") or UseMode.SELF,
        capacity_attested=bool(data.get("capacity_attested")),
        bank_account_no=data.get("bank_account_no", ""),
        entity_attested=bool(data.get("entity_attested")),
        application=application,
        stage="check",
    )


# ---------------------------------------------------------------------------------------------
# The cadre's application form
# ---------------------------------------------------------------------------------------------


def _application_form_page(request, *, household, application=None):
    user = request.user
    # Said on the page when nobody is chosen because the head is outside the age range.
    head_outside_age = False
    if application is not None:
        initial = {f: getattr(application, f) for f in applications.EDITABLE_FIELDS}
    else:
        head = household_selectors.head_of(household)
        # The head is chosen for the cadre only when the age rule lets them borrow (issue 14: a
        # head of 70 opened the form on a failed rule); otherwise the cadre picks a member.
        head_may_borrow = _may_borrow_by_age(household, head)
        head_outside_age = head is not None and not head_may_borrow
        initial = {"borrower": head.pk if head_may_borrow else None, "use_mode": UseMode.SELF}
    form = ApplicationForm(request.POST or None, household=household, initial=initial)
    submit = request.POST.get("action") == "submit"

    def save(_data):
        # Saving and submitting are one step for the user: if the submission is refused,
        # nothing is saved, and the form comes back with the reasons beside the fields.
        with transaction.atomic():
            if application is None:
                saved = applications.application_create(
                    acting_user=user, household=household, **form.service_fields()
                )
            else:
                saved = applications.application_update(
                    acting_user=user, application=application, **form.service_fields()
                )
            if submit:
                saved = applications.application_submit(acting_user=user, application=saved)
        return saved

    outcome = run_form_step(form, save, place=place_rule_error) if request.method == "POST" else NOT_POSTED
    status, leftover = outcome.status, outcome.leftover
    if outcome.ok:
        saved = outcome.result
        if submit:
            messages.success(request, steps.done_message("submit", saved))
        else:
            messages.success(
                request,
                _("Draft #%(no)d was saved. Submit it for village review when it is ready.")
                % {"no": saved.pk},
            )
        return redirect("loans:application_detail", pk=saved.pk)
    if form.is_bound:
        data = request.POST
    elif application is not None:
        data = {
            f: (getattr(application, f"{f}_id") if f == "borrower" else getattr(application, f))
            for f in applications.EDITABLE_FIELDS
        }
    else:
        data = None
    report = None
    if data is not None:
        try:
            evaluated = _evaluate_data(household, data, application)
        except ApplicationError as e:
            report = {"error": e.message, "rows": []}
        else:
            if evaluated is not None:
                # A bound form was posted: every field counts as filled in.
                report = report_dict(evaluated, pending=set() if form.is_bound else unfilled(data))
    context = {
        "household": household,
        "application": application,
        "form": form,
        "panel": _household_panel(household, application),
        "report": report,
        "rule_errors": leftover,
        "check_url": reverse("loans:eligibility_check"),
        "head_outside_age": head_outside_age,
    }
    return render(request, "loans/form.html", context, status=status)


@login_required
def application_create(request, household_pk):
    household = household_selectors.household_get(user=request.user, pk=household_pk)
    require(can_apply_for(request.user, household))
    return _application_form_page(request, household=household)


@login_required
def application_edit(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    require(can_apply_for(request.user, app.household))
    if app.state != State.DRAFT:
        messages.warning(request, _("Only a draft can be edited; send it back to draft first."))
        return redirect("loans:application_detail", pk=app.pk)
    household = household_selectors.household_get(user=request.user, pk=app.household_id)
    return _application_form_page(request, household=household, application=app)


@login_required
@require_POST
def eligibility_check(request):
    """The live panel of the application form: every rule for what the form holds now, as JSON.
    200 with `results` (possibly all failed); 404 for a household outside the user's area."""
    household = household_selectors.household_get(user=request.user, pk=request.POST.get("household"))
    application = None
    if request.POST.get("application"):
        application = selectors.application_get(
            user=request.user, pk=to_int(request.POST["application"]) or 0, household=household
        )
    try:
        report = _evaluate_data(household, request.POST, application)
    except ApplicationError as e:
        return JsonResponse({"eligible": False, "message": str(e.message), "results": []})
    if report is None:
        return JsonResponse(
            {"eligible": False, "message": _("Choose the borrower to check the rules."), "results": []}
        )
    # Judge only what the cadre has filled in; the rest waits (issue 14).
    panel = report_dict(report, pending=unfilled(request.POST))
    return JsonResponse(
        {
            "eligible": panel["eligible"],
            "verdict": panel["verdict"],
            "state": panel["state"],
            "failed": panel["failed"],
            "pending": panel["pending"],
            "total": panel["total"],
            "message": "",
            "results": panel["rows"],
        }
    )


# ---------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------


@login_required
def application_list(request):
    filters = ApplicationFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    state = criteria.get("state", "")
    sorting = selectors.APPLICATION_SORTS.read(request.GET)
    qs, counts = selectors.application_search(
        # `todo`: the home page's to-do links (sent back, objection, stuck; loans/waiting.py).
        user=request.user,
        q=criteria.get("q", ""),
        state=state,
        todo=request.GET.get("todo", ""),
        sorting=sorting,
    )
    tabs = [{"state": "", "label": _("All"), "count": sum(counts.values()), "active": not state}]
    tabs += [
        {"state": value, "label": label, "count": counts.get(value, 0), "active": state == value}
        for value, label in State.choices
    ]
    page = page_of(request, qs)
    return render(
        request,
        "loans/list.html",
        {
            "filters": filters,
            "todo_filter": waiting.todo_filter(request),
            "q": criteria.get("q", ""),
            "state": state,
            "tabs": tabs,
            "sorting": sorting,
            "page_obj": page,
            "is_cadre": request.user.has_role(Role.VILLAGE_CADRE),
        },
    )


# ---------------------------------------------------------------------------------------------
# Detail and the simple steps
# ---------------------------------------------------------------------------------------------


def _detail_page(request, app, *, failed=None, failed_form=None, rule_errors=None, status=200):
    user = request.user
    loan = selectors.application_loan(application=app)
    report = None if app.state in FINAL_STATES else application_report(app)
    can_edit = app.state == State.DRAFT and can_apply_for(user, app.household)
    actions = steps_for(request, app, failed=failed, failed_form=failed_form)
    # A draft that breaks a rule is edited before it is submitted: editing is the primary action.
    edit_first = can_edit and bool(report and (report.get("failed") or report.get("error")))
    if edit_first:
        for step in actions:
            step["primary"] = False
    context = {
        **summary_context(request, app),
        "household": app.household,
        "steps": actions,
        "edit_first": edit_first,
        "failed_step": failed,
        "rule_errors": rule_errors or [],
        "can_edit": can_edit,
        "four_eyes": four_eyes(app, user),
        # A finished application is not judged again: today's rules say nothing about it.
        "is_final": app.state in FINAL_STATES,
        "report": report,
        "notices": sorted(app.notices.all(), key=lambda n: (n.start_on, LEVELS.index(n.level))),
        "objections": app.objections.all(),
        "photos": app.photos.all(),
        "history": app.history.all(),
        "progress": progress(app),
        "loan": loan,
    }
    return render(request, "loans/detail.html", context, status=status)


@login_required
def application_detail(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    return _detail_page(request, app)


@login_required
@require_POST
def application_transition(request, pk, name):
    """One of the simple steps (submit, village review, withdraw, decline, reject, return). On
    success back to the application with a message; on a refusal the application page again,
    with the reasons next to the comment or in the rule list."""
    step = steps.STEPS.get(name)
    if step is None or step.form:  # unknown, or a step with its own page
        raise Http404
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = step_gate(request, app, name)
    if gate is not None:
        return gate
    form = comment_form(name, request.POST)
    outcome = run_form_step(
        form,
        lambda data: steps.take(name, application=app, user=request.user, data={"comment": data["comment"]}),
        place=place_rule_error,
        default_field="comment",
    )
    if outcome.ok:
        messages.success(request, steps.done_message(name, outcome.result))
        return redirect("loans:application_detail", pk=app.pk)
    # The service rolled back; show the application as it is now.
    app = selectors.application_detail(user=request.user, pk=pk)
    return _detail_page(
        request, app, failed=name, failed_form=form, rule_errors=outcome.leftover, status=outcome.status
    )


@login_required
def investigation_photo(request, pk, photo_pk):
    """A photo of the pre-loan investigation, to those who may see the application. Served by
    the application's scope, not as public media: it shows a family's home and assets."""
    photo = selectors.investigation_photo_get(user=request.user, pk=pk, photo_pk=photo_pk)
    try:
        handle = photo.image.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    content_type = mimetypes.guess_type(photo.image.name)[0] or "application/octet-stream"
    return FileResponse(handle, content_type=content_type)
