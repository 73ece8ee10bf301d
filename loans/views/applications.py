"""Pages for loan applications: the cadre's form with its live eligibility panel, the lists and
queues of each role, the publicity board and its printable notice, and the bank's acceptance,
approval and disbursement forms. Views read through selectors, write through services, show
only the steps `available_transitions` offers this user now, and put every rule failure next to
its field or in a rule list with its source."""

from __future__ import annotations

import mimetypes
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from accounts.models import OrgUnit, Role
from core.exceptions import ApplicationError, NotPermitted
from core.pages import place_error, shows
from households import selectors as household_selectors
from policies.models import Rate
from policies.selectors import contract_rate_for, county_of, profile_for, rate_kind_for

from .. import eligibility, eligibility_facts, selectors
from ..forms import (
    AcceptanceForm,
    ApplicationFilterForm,
    ApplicationForm,
    ApprovalForm,
    CommentForm,
    DisbursementForm,
    ObjectionForm,
    PublicityFilterForm,
)
from ..models import LoanApplication, PublicityNotice, UseMode
from ..services import applications
from ..workflow import FINAL_STATES, STEP_LABELS, State

PAGE_SIZE = 20
ZERO = Decimal("0.00")

# What each step is called on its button, and what the page says once it is done.
STEP_DONE = {
    "submit": gettext_lazy("The application was submitted for village review."),
    "send_back": gettext_lazy("The application was sent back to draft for changes."),
    "village_approve": gettext_lazy("Village review passed; the publicity notices are up."),
    "village_reject": gettext_lazy("The application was rejected."),
    "withdraw": gettext_lazy("The application was withdrawn."),
    "decline": gettext_lazy("The bank declined the application."),
    "reject": gettext_lazy("The application was rejected."),
    "return_to_officer": gettext_lazy("The application was returned to the loan officer."),
}
# Steps taken with a comment only, through the generic endpoint; the others have their own forms.
SIMPLE_STEPS = frozenset(STEP_DONE)
REASON_STEPS = frozenset(
    {"send_back", "village_reject", "withdraw", "decline", "reject", "return_to_officer"}
)
DANGER_STEPS = frozenset({"village_reject", "withdraw", "decline", "reject", "object"})
# The reason box says what the reason is for: two refusals on one page must not look alike.
REASON_LABELS = {
    "send_back": gettext_lazy("What must be changed"),
    "village_reject": gettext_lazy("Reason for rejection"),
    "withdraw": gettext_lazy("Reason for withdrawal"),
    "decline": gettext_lazy("Reason for declining"),
    "reject": gettext_lazy("Reason for rejection"),
    "return_to_officer": gettext_lazy("What the officer must add or correct"),
}
FORM_STEPS = {
    "object": "loans:objection_create",
    "accept": "loans:application_accept",
    "approve": "loans:application_approve",
    "disburse": "loans:application_disburse",
}

# People read the rule's name before its message (DOMAIN §3).
RULE_NAMES = {
    "registered_poor": gettext_lazy("Registered poor household"),
    "in_lending_county": gettext_lazy("In the lending county"),
    "valid_rating": gettext_lazy("Valid credit rating"),
    "age_range": gettext_lazy("Borrower age"),
    "age_plus_term": gettext_lazy("Age plus term"),
    "capacity": gettext_lazy("Civil and labour capacity"),
    "amount_range": gettext_lazy("Amount per loan"),
    "credit_line": gettext_lazy("Within the credit line"),
    "amount_cap_household": gettext_lazy("Household total"),
    "term_range": gettext_lazy("Term"),
    "productive_purpose": gettext_lazy("Productive purpose"),
    "forbidden_purpose": gettext_lazy("Forbidden purposes"),
    "credit_record": gettext_lazy("Credit record and blacklist"),
    "one_borrower_per_household": gettext_lazy("One borrower per household"),
    "bank_account": gettext_lazy("Account at the lending bank"),
    "use_mode": gettext_lazy("Use mode"),
    "consent_publicity": gettext_lazy("Consent to publicity"),
    "consent_credit_query": gettext_lazy("Consent to the credit report query"),
    "serving_branch": gettext_lazy("A bank branch serves the township"),
    "approved_not_above_requested": gettext_lazy("Approved amount within the request"),
}
# Where a failed rule's message goes on the application form when the error does not say.
RULE_FIELDS = {
    "age_range": "borrower",
    "age_plus_term": "term_months",
    "capacity": "capacity_attested",
    "amount_range": "amount",
    "credit_line": "amount",
    "amount_cap_household": "amount",
    "term_range": "term_months",
    "productive_purpose": "purpose_category",
    "forbidden_purpose": "purpose_category",
    "one_borrower_per_household": "borrower",
    "bank_account": "bank_account_no",
    "use_mode": "use_mode",
    "consent_publicity": "consent_publicity",
    "consent_credit_query": "consent_credit_query",
}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def can_apply_for(user, household) -> bool:
    """Only a cadre of the household's village enters its applications (as the service says)."""
    return (
        user.is_authenticated and user.has_role(Role.VILLAGE_CADRE) and user.unit_id == household.village_id
    )


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _with_source(message, source) -> str:
    return (
        _("%(message)s (source: %(source)s)") % {"message": message, "source": source}
        if source
        else str(message)
    )


def _rule_row(rule: dict) -> dict:
    code = rule.get("rule", "")
    return {
        "rule": code,
        "name": str(RULE_NAMES.get(code, code)),
        "passed": rule.get("passed", False),
        "message": str(rule.get("message", "")),
        "source": rule.get("source", ""),
        "field": rule.get("field") or RULE_FIELDS.get(code),
        "hint": _with_source(rule.get("message", ""), rule.get("source", "")),
    }


def _report_dict(report) -> dict:
    """An EligibilityReport as the pages and the live panel show it."""
    rows = [
        _rule_row(
            {"rule": r.rule, "passed": r.passed, "message": r.message, "source": r.source, "field": r.field}
        )
        for r in report.results
    ]
    failed = sum(1 for r in rows if not r["passed"])
    total = len(rows)
    if failed:
        verdict = ngettext(
            "%(failed)d of %(total)d rules is not met.", "%(failed)d of %(total)d rules are not met.", failed
        ) % {"failed": failed, "total": total}
    else:
        verdict = _("All %(total)d rules are met.") % {"total": total}
    return {
        "eligible": report.eligible,
        "rows": rows,
        "failed": failed,
        "passed": total - failed,
        "total": total,
        "verdict": verdict,
    }


def _add(form, field, message) -> bool:
    """Add `message` next to `field` when the form shows that field; answers whether it did."""
    if shows(form, field):
        form.add_error(field, message)
        return True
    return False


def _place_error(exc: ApplicationError, form, default_field: str | None = None) -> list[dict]:
    """Put a service's error where it belongs. A failed rule goes next to its field when the form
    has it (with its source); the rules that belong to no field of this form are returned, for
    the page's rule list. Any other error goes next to `exc.field` (or `default_field`) or at the
    top of the form."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    rules = extra.get("rules") or []
    if rules:
        leftover = []
        for raw in rules:
            row = _rule_row(raw)
            field = row["field"] or (exc.field if len(rules) == 1 else None)
            if not _add(form, field, _with_source(row["message"], row["source"])):
                leftover.append(row)
        return leftover
    place_error(form, exc, default_field=default_field)
    return []


def _place_validation_error(exc: ValidationError, form) -> None:
    if hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            for msg in msgs:
                if not _add(form, field, msg):
                    form.add_error(None, msg)
    else:
        form.add_error(None, exc.messages)


def _step_gate(request, app: LoanApplication, name: str):
    """None when this user may take step `name` now. A step the state allows but the user's
    role, unit or four-eyes does not is a 403; a step the state does not allow (it moved on
    meanwhile) sends the user back to the application with a message."""
    if name in selectors.available_transitions(application=app, user=request.user):
        return None
    if can_proceed(getattr(app, name)):
        raise PermissionDenied
    messages.warning(
        request,
        _("This step is not possible while the application is “%(state)s”.")
        % {"state": app.get_state_display()},
    )
    return redirect("loans:application_detail", pk=app.pk)


def _money(value) -> Decimal | None:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


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


def _evaluate_data(household, data, application=None):
    """The rules for what the form holds now, typed or not yet (the live panel)."""
    borrower = None
    borrower_id = _int(data.get("borrower"))
    if borrower_id is not None:
        borrower = next((m for m in household.members.all() if m.pk == borrower_id), None)
    if borrower is None:
        return None
    today = timezone.localdate()
    return eligibility.evaluate(
        household=household,
        borrower=borrower,
        amount=_money(data.get("amount", "")),
        term_months=_int(data.get("term_months")) or 0,
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


def _application_report(app: LoanApplication) -> dict:
    """The rules judged on today for a stored application, for the detail and the bank's forms."""
    try:
        # Once approved, the loan will be lent at the approved amount and term: judge those.
        report = eligibility.evaluate_application(
            app,
            on_date=timezone.localdate(),
            stage="check",
            amount=app.approved_amount,
            term_months=app.approved_term_months,
        )
    except ApplicationError as e:
        return {"error": e.message, "rows": []}
    return _report_dict(report)


def _steps(request, app, *, failed: str | None = None, failed_form=None) -> list[dict]:
    """The buttons and small forms for the steps this user may take now, in workflow order."""
    available = selectors.available_transitions(application=app, user=request.user)
    steps = []
    for name in available:
        step = {"name": name, "label": STEP_LABELS.get(name, name), "danger": name in DANGER_STEPS}
        if name in FORM_STEPS:
            step["url"] = reverse(FORM_STEPS[name], args=[app.pk])
        elif name in SIMPLE_STEPS:
            step["url"] = reverse("loans:application_transition", args=[app.pk, name])
            step["reason"] = name in REASON_STEPS
            step["form"] = failed_form if name == failed and failed_form is not None else _comment_form(name)
        else:
            continue
        steps.append(step)
    # Forward steps first, then the ones that send back, refuse or withdraw.
    steps.sort(key=lambda s: (s.get("reason", False), s["danger"]))
    return steps


def _comment_form(name: str, data=None) -> CommentForm:
    form = CommentForm(data, prefix=name, reason_required=name in REASON_STEPS)
    if name in REASON_LABELS:
        form.fields["comment"].label = REASON_LABELS[name]
    return form


def _four_eyes(app, user) -> bool:
    """An approver of the bank who investigated this application: they see it but may not decide."""
    return (
        app.state == State.BANK_APPROVAL
        and user.has_role(Role.APPROVER)
        and app.investigated_by_id is not None
        and app.investigated_by_id == user.pk
    )


def _summary(request, app) -> dict:
    borrower = app.borrower
    return {
        "app": app,
        # Masked on every step page (#10): a full number is shown only by the audited "show full
        # ID number" action on the household page the summary links to (DOMAIN §2).
        "borrower_id_number": borrower.id_number_masked,
        "borrower_age": borrower.age_on(timezone.localdate()),
    }


# ---------------------------------------------------------------------------------------------
# The cadre's application form
# ---------------------------------------------------------------------------------------------


def _application_form_page(request, *, household, application=None):
    user = request.user
    if application is not None:
        initial = {f: getattr(application, f) for f in applications.EDITABLE_FIELDS}
    else:
        head = household_selectors.head_of(household)
        initial = {"borrower": head.pk if head else None, "use_mode": UseMode.SELF}
    form = ApplicationForm(request.POST or None, household=household, initial=initial)
    status = 200
    leftover: list[dict] = []
    if request.method == "POST":
        status = 400
        submit = request.POST.get("action") == "submit"
        if form.is_valid():
            try:
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
            except NotPermitted as e:
                raise PermissionDenied(e.message) from None
            except ApplicationError as e:
                leftover = _place_error(e, form)
                status = e.status_code
            except ValidationError as e:
                _place_validation_error(e, form)
            else:
                if submit:
                    messages.success(request, STEP_DONE["submit"])
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
                report = _report_dict(evaluated)
    context = {
        "household": household,
        "application": application,
        "form": form,
        "panel": _household_panel(household, application),
        "report": report,
        "rule_errors": leftover,
        "check_url": reverse("loans:eligibility_check"),
    }
    return render(request, "loans/form.html", context, status=status)


@login_required
def application_create(request, household_pk):
    household = household_selectors.household_get(user=request.user, pk=household_pk)
    _require(can_apply_for(request.user, household))
    return _application_form_page(request, household=household)


@login_required
def application_edit(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    _require(can_apply_for(request.user, app.household))
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
            user=request.user, pk=_int(request.POST["application"]) or 0, household=household
        )
    try:
        report = _evaluate_data(household, request.POST, application)
    except ApplicationError as e:
        return JsonResponse({"eligible": False, "message": str(e.message), "results": []})
    if report is None:
        return JsonResponse(
            {"eligible": False, "message": _("Choose the borrower to check the rules."), "results": []}
        )
    panel = _report_dict(report)
    return JsonResponse(
        {
            "eligible": panel["eligible"],
            "verdict": panel["verdict"],
            "failed": panel["failed"],
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
    qs, counts = selectors.application_search(user=request.user, q=criteria.get("q", ""), state=state)
    tabs = [{"state": "", "label": _("All"), "count": sum(counts.values()), "active": not state}]
    tabs += [
        {"state": value, "label": label, "count": counts.get(value, 0), "active": state == value}
        for value, label in State.choices
    ]
    page = _page(request, qs)
    return render(
        request,
        "loans/list.html",
        {
            "filters": filters,
            "q": criteria.get("q", ""),
            "state": state,
            "tabs": tabs,
            "page_obj": page,
            "is_cadre": request.user.has_role(Role.VILLAGE_CADRE),
        },
    )


def _bank_queue(request, *, role: str, state: str, template: str, title_extra=None):
    user = request.user
    _require(user.has_role(role) and user.unit_id is not None)
    page = _page(request, selectors.bank_queue(user=user, role=role, state=state))
    rows = []
    for app in page.object_list:
        available = selectors.available_transitions(application=app, user=user)
        rows.append({"app": app, "available": available, "four_eyes": _four_eyes(app, user)})
    return render(request, template, {"page_obj": page, "rows": rows})


@login_required
def acceptance_queue(request):
    return _bank_queue(
        request, role=Role.LOAN_OFFICER, state=State.BANK_ACCEPTANCE, template="loans/acceptance_queue.html"
    )


@login_required
def approval_queue(request):
    return _bank_queue(
        request, role=Role.APPROVER, state=State.BANK_APPROVAL, template="loans/approval_queue.html"
    )


@login_required
def disbursement_queue(request):
    return _bank_queue(
        request, role=Role.LOAN_OFFICER, state=State.APPROVED, template="loans/disbursement_queue.html"
    )


# ---------------------------------------------------------------------------------------------
# Detail and the simple steps
# ---------------------------------------------------------------------------------------------


def _detail_page(request, app, *, failed=None, failed_form=None, rule_errors=None, status=200):
    user = request.user
    loan = selectors.application_loan(application=app)
    context = {
        **_summary(request, app),
        "household": app.household,
        "steps": _steps(request, app, failed=failed, failed_form=failed_form),
        "failed_step": failed,
        "rule_errors": rule_errors or [],
        "can_edit": app.state == State.DRAFT and can_apply_for(user, app.household),
        "four_eyes": _four_eyes(app, user),
        # A finished application is not judged again: today's rules say nothing about it.
        "is_final": app.state in FINAL_STATES,
        "report": None if app.state in FINAL_STATES else _application_report(app),
        "notices": sorted(app.notices.all(), key=lambda n: (n.start_on, LEVELS.index(n.level))),
        "objections": app.objections.all(),
        "photos": app.photos.all(),
        "history": app.history.all(),
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
    if name not in SIMPLE_STEPS:
        raise Http404
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = _step_gate(request, app, name)
    if gate is not None:
        return gate
    form = _comment_form(name, request.POST)
    status, rule_errors = 400, []
    if form.is_valid():
        try:
            applications.TRANSITIONS[name](
                acting_user=request.user, application=app, comment=form.cleaned_data["comment"]
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            rule_errors = _place_error(e, form, default_field="comment")
            status = e.status_code
        else:
            messages.success(request, STEP_DONE[name])
            return redirect("loans:application_detail", pk=app.pk)
    # The service rolled back; show the application as it is now.
    app = selectors.application_detail(user=request.user, pk=pk)
    return _detail_page(request, app, failed=name, failed_form=form, rule_errors=rule_errors, status=status)


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


# ---------------------------------------------------------------------------------------------
# Publicity
# ---------------------------------------------------------------------------------------------


LEVELS = list(PublicityNotice.Level.values)
LEVEL_TITLES = {
    PublicityNotice.Level.VILLAGE: gettext_lazy("Village-level notice"),
    PublicityNotice.Level.TOWNSHIP: gettext_lazy("Township-level notice"),
    PublicityNotice.Level.COUNTY: gettext_lazy("County-level notice"),
}


@login_required
def publicity_board(request):
    user = request.user
    filters = PublicityFilterForm(request.GET or None, user=user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    village = criteria.get("village")
    level = criteria.get("level", "")
    page = _page(request, selectors.under_notice(user=user, village=village, level=level))
    today = timezone.localdate()
    apps = list(page.object_list)
    left = selectors.working_days_left([n for app in apps for n in app.running], today)
    rows = [
        {
            "app": app,
            "notices": [{"notice": n, "left": left.get(n.pk)} for n in app.running],
            "can_object": "object" in selectors.available_transitions(application=app, user=user),
        }
        for app in apps
    ]
    print_query = {"level": level or PublicityNotice.Level.VILLAGE}
    if village is not None:
        print_query["village"] = village.pk
    elif user.unit_id and user.unit.kind == OrgUnit.Kind.VILLAGE:
        print_query["village"] = user.unit_id
    return render(
        request,
        "loans/publicity_board.html",
        {
            "filters": filters,
            "page_obj": page,
            "rows": rows,
            "today": today,
            "print_query": print_query,
            "calendar_missing": any(v is None for v in left.values()),
        },
    )


def _issuer(unit, level: str) -> str:
    """Who posts the notice: the villagers' committee, the township's or the county's office."""
    if unit is None:
        return ""
    if unit.kind == OrgUnit.Kind.VILLAGE and level == PublicityNotice.Level.VILLAGE:
        return _("%(village)s Villagers' Committee") % {"village": unit.name}
    if unit.kind == OrgUnit.Kind.VILLAGE:
        unit = unit.parent if level == PublicityNotice.Level.TOWNSHIP else unit.parent.parent
    elif unit.kind == OrgUnit.Kind.TOWNSHIP and level == PublicityNotice.Level.COUNTY:
        unit = unit.parent
    if unit.kind == OrgUnit.Kind.TOWNSHIP:
        return _("%(township)s People's Government") % {"township": unit.name}
    if unit.kind == OrgUnit.Kind.COUNTY:
        return _("%(county)s Poverty Alleviation and Development Office") % {"county": unit.name}
    return unit.name


@login_required
def publicity_notice_print(request):
    """The notice for the village board, on A4: masked ID numbers only (PIPL art.28)."""
    user = request.user
    level = request.GET.get("level") or PublicityNotice.Level.VILLAGE
    if level not in PublicityNotice.Level.values:
        raise Http404
    village = None
    if request.GET.get("village"):
        village = selectors.visible_village(user=user, pk=_int(request.GET["village"]) or 0)
    notices = list(selectors.running_notices(user=user, village=village, level=level))
    unit = village or user.unit
    days = sorted({n.working_days for n in notices})
    return render(
        request,
        "loans/notice_print.html",
        {
            "notices": notices,
            "village": village,
            "level_title": LEVEL_TITLES[level],
            "issuer": _issuer(unit, level),
            "working_days": days[0] if len(days) == 1 else None,
            "today": timezone.localdate(),
            "contact": user,
            "back_url": reverse("loans:publicity_board"),
        },
    )


@login_required
def objection_create(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = _step_gate(request, app, "object")
    if gate is not None:
        return gate
    form = ObjectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                applications.objection_lodge(
                    acting_user=request.user,
                    application=app,
                    text=form.cleaned_data["text"],
                    objector=form.cleaned_data["objector"],
                )
            except NotPermitted as e:
                raise PermissionDenied(e.message) from None
            except ApplicationError as e:
                _place_error(e, form, default_field="text")
                status = e.status_code
            else:
                messages.success(
                    request,
                    _(
                        "The objection was recorded. Publicity is suspended and the application is back "
                        "at village review."
                    ),
                )
                return redirect("loans:application_detail", pk=app.pk)
    return render(
        request, "loans/objection_form.html", {**_summary(request, app), "form": form}, status=status
    )


# ---------------------------------------------------------------------------------------------
# The bank's forms
# ---------------------------------------------------------------------------------------------


_FAILED = object()


def _run_form_step(request, form, call, *, default_field: str | None = None):
    """Run a bank step for a posted form: `call(cleaned_data)` calls the service. Answers
    (result, status, rule_errors); `result` is `_FAILED` when the form or the service said no,
    with the messages placed next to their fields."""
    if request.method != "POST":
        return _FAILED, 200, []
    if not form.is_valid():
        return _FAILED, 400, []
    try:
        return call(form.cleaned_data), 200, []
    except NotPermitted as e:
        raise PermissionDenied(e.message) from None
    except ApplicationError as e:
        return _FAILED, e.status_code, _place_error(e, form, default_field=default_field)
    except ValidationError as e:
        _place_validation_error(e, form)
        return _FAILED, 400, []


@login_required
def application_accept(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = _step_gate(request, app, "accept")
    if gate is not None:
        return gate
    form = AcceptanceForm(request.POST or None, request.FILES or None)

    def accept(data):
        # The photos and the acceptance stand or fall together.
        with transaction.atomic():
            for image in data["photos"]:
                applications.investigation_photo_add(
                    acting_user=request.user, application=app, image=image, caption=data["caption"]
                )
            return applications.application_accept(
                acting_user=request.user,
                application=app,
                findings=data["findings"],
                investigated_on=data["investigated_on"],
                comment=data["comment"],
            )

    result, status, rule_errors = _run_form_step(request, form, accept)
    if result is not _FAILED:
        messages.success(request, _("Accepted; the application now waits for review and approval."))
        return redirect("loans:application_detail", pk=app.pk)
    return render(
        request,
        "loans/accept_form.html",
        {
            **_summary(request, app),
            "form": form,
            "rule_errors": rule_errors,
            "report": _application_report(app),
            "photos": app.photos.all(),
            "steps": [s for s in _steps(request, app) if s["name"] != "accept"],
        },
        status=status,
    )


def _rate_buckets(app, today) -> dict:
    """The indicative rate, by term: what a contract signed today would take (DOMAIN §5). The
    loan's rate is fixed at disbursement, on the contract date. The page picks the bucket for the
    term typed."""
    try:
        profile = profile_for(county=county_of(app.household.village), on_date=today)
        kind = rate_kind_for(basis=profile.rate_basis, contract_date=today)
    except ApplicationError as e:
        return {"error": e.message, "buckets": []}
    buckets = []
    for longest in (12, 60, None):
        try:
            rate = contract_rate_for(basis=profile.rate_basis, term_months=longest or 61, contract_date=today)
        except ApplicationError as e:
            buckets.append({"max": longest, "error": str(e.message)})
        else:
            buckets.append(
                {
                    "max": longest,
                    "rate": f"{rate.annual_rate:.2f}",
                    "tenor": str(rate.get_tenor_display()),
                    "since": rate.effective_from.isoformat(),
                }
            )
    return {"basis": str(Rate.Kind(kind).label), "buckets": buckets}


def _bucket_for(buckets: list[dict], term) -> dict | None:
    if not term:
        return None
    for bucket in buckets:
        if bucket["max"] is None or term <= bucket["max"]:
            return bucket
    return None


@login_required
def application_approve(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = _step_gate(request, app, "approve")
    if gate is not None:
        return gate
    form = ApprovalForm(request.POST or None, application=app)
    result, status, rule_errors = _run_form_step(
        request,
        form,
        lambda data: applications.application_approve(
            acting_user=request.user,
            application=app,
            amount=data["amount"],
            term_months=data["term_months"],
            comment=data["comment"],
        ),
    )
    if result is not _FAILED:
        messages.success(request, _("Approved; the loan officer can now disburse it."))
        return redirect("loans:application_detail", pk=app.pk)
    rates = _rate_buckets(app, timezone.localdate())
    term = _int(form.data.get("term_months")) if form.is_bound else app.term_months
    return render(
        request,
        "loans/approve_form.html",
        {
            **_summary(request, app),
            "form": form,
            "rule_errors": rule_errors,
            "rates": rates,
            "rate_now": _bucket_for(rates["buckets"], term),
            "report": _application_report(app),
            "photos": app.photos.all(),
            "steps": [s for s in _steps(request, app) if s["name"] != "approve"],
        },
        status=status,
    )


@login_required
def application_disburse(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = _step_gate(request, app, "disburse")
    if gate is not None:
        return gate
    form = DisbursementForm(request.POST or None, application=app)
    loan, status, rule_errors = _run_form_step(
        request,
        form,
        lambda data: applications.application_disburse(
            acting_user=request.user,
            application=app,
            contract_no=data["contract_no"],
            receipt_no=data["receipt_no"],
            account_no=data["account_no"],
            disbursed_on=data["disbursed_on"],
            comment=data["comment"],
        ),
        default_field="contract_no",
    )
    if loan is not _FAILED:
        messages.success(
            request,
            _(
                "Disbursed under contract %(contract)s at an annual rate of %(rate)s%%, fixed for the "
                "contract; the loan matures on %(date)s."
            )
            % {
                "contract": loan.contract_no,
                "rate": f"{loan.rate:.2f}",
                "date": loan.maturity_on.isoformat(),
            },
        )
        return redirect("loans:application_detail", pk=app.pk)
    start = form.cleaned_data.get("disbursed_on") if form.is_bound and hasattr(form, "cleaned_data") else None
    start = start or timezone.localdate()
    try:
        contract_rate, lpr_stale = applications.disbursement_rate(application=app, on_date=start)
    except ApplicationError as e:
        contract_rate, lpr_stale, rate_error = None, None, e.message
    else:
        rate_error = None
    return render(
        request,
        "loans/disburse_form.html",
        {
            **_summary(request, app),
            "form": form,
            "rule_errors": rule_errors,
            "maturity": start + relativedelta(months=app.approved_term_months or app.term_months),
            "term": app.approved_term_months or app.term_months,
            "contract_on": start,
            "contract_rate": contract_rate,
            "rate_error": rate_error,
            # The service notes the same in the disbursement's audit record (rate_table_stale).
            "lpr_stale": lpr_stale,
            "report": _application_report(app),
        },
        status=status,
    )
