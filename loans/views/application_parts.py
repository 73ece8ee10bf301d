"""What the application pages are built from: the rule list with its sources, a service's
refusal put next to its field or in the rule list, the gate before a step, the step buttons this
user may press now, and the summary at the top of every step page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_fsm import can_proceed

from accounts.models import Role
from core.exceptions import ApplicationError
from core.pages import place_error, shows
from policies import citations

from .. import eligibility, selectors, steps
from ..forms import (
    CommentForm,
)
from ..models import LoanApplication
from ..workflow import STEP_LABELS, State

PAGE_SIZE = 20

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
# What a rule reads from the form besides the borrower: a rule is judged only once these are
# filled in; before that the live panel says "to be filled in", not "not met" (issue 14: a blank
# form opened with "7 rules not met" and "unknown purpose “”").
RULE_INPUTS = {
    "age_plus_term": ("term_months",),
    "capacity": ("capacity_attested",),
    "amount_range": ("amount",),
    "credit_line": ("amount",),
    "amount_cap_household": ("amount",),
    "term_range": ("term_months",),
    "productive_purpose": ("purpose_category",),
    "forbidden_purpose": ("purpose_category",),
    "bank_account": ("bank_account_no",),
    "use_mode": ("use_mode",),
}
FORM_INPUTS = (
    "amount",
    "term_months",
    "purpose_category",
    "use_mode",
    "bank_account_no",
    "capacity_attested",
)


def unfilled(data) -> set[str]:
    """The form's inputs the user has not filled in yet (blank, or a box not ticked)."""
    blank = {name for name in FORM_INPUTS if str(data.get(name) or "").strip() in ("", "False", "None")}
    if data.get("use_mode") == "indirect" and str(data.get("entity_attested") or "") in ("", "False"):
        blank.add("entity_attested")
    return blank


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def can_apply_for(user, household) -> bool:
    """Only a cadre of the household's village enters its applications (as the service says)."""
    return (
        user.is_authenticated and user.has_role(Role.VILLAGE_CADRE) and user.unit_id == household.village_id
    )


def page_of(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def with_source(message, source) -> str:
    """A rule's message with where it comes from, as readers cite it ("《临桂区实施细则》第十条")."""
    cited = citations.plain(source)
    return (
        _("%(message)s (source: %(source)s)") % {"message": message, "source": cited}
        if cited
        else str(message)
    )


def rule_row(rule: dict) -> dict:
    code = rule.get("rule", "")
    return {
        "rule": code,
        "name": str(RULE_NAMES.get(code, code)),
        "passed": rule.get("passed", False),
        "message": str(rule.get("message", "")),
        "source": rule.get("source", ""),
        # The source as the document's short name and article, with its full title (the live
        # panel draws these; the templates use the `cite` filter on `source`).
        "citations": citations.as_dicts(rule.get("source", "")),
        "field": rule.get("field") or RULE_FIELDS.get(code),
        "hint": with_source(rule.get("message", ""), rule.get("source", "")),
    }


def _waits(row: dict, pending: set[str]) -> bool:
    inputs = RULE_INPUTS.get(row["rule"], ())
    return bool(pending) and (any(name in pending for name in inputs) or row["field"] in pending)


def report_dict(report, pending: set[str] | frozenset = frozenset()) -> dict:
    """An EligibilityReport as the pages and the live panel show it. `pending` names the form's
    inputs not filled in yet (the live form only): a rule that reads one of them, met or not, is
    "to be filled in", neither met nor counted as a failure."""
    rows = []
    for r in report.results:
        row = rule_row(
            {"rule": r.rule, "passed": r.passed, "message": r.message, "source": r.source, "field": r.field}
        )
        # Met or not, a rule that reads a blank input says nothing yet ("not forbidden" for no purpose).
        row["pending"] = _waits(row, pending)
        if row["pending"]:
            row["message"] = _("To be filled in.")
            row["hint"] = ""
        rows.append(row)
    waiting = sum(1 for r in rows if r["pending"])
    failed = sum(1 for r in rows if not r["passed"] and not r["pending"])
    total = len(rows)
    if failed:
        verdict = ngettext(
            "%(failed)d of %(total)d rules is not met.", "%(failed)d of %(total)d rules are not met.", failed
        ) % {"failed": failed, "total": total}
    elif waiting:
        verdict = _("No rule is broken so far.")
    else:
        verdict = _("All %(total)d rules are met.") % {"total": total}
    if waiting:
        verdict += " " + ngettext(
            "%(n)d rule waits for the form to be filled in.",
            "%(n)d rules wait for the form to be filled in.",
            waiting,
        ) % {"n": waiting}
    return {
        "eligible": report.eligible,
        "rows": rows,
        "failed": failed,
        "pending": waiting,
        "passed": total - failed - waiting,
        "total": total,
        "verdict": verdict,
        "state": "bad" if failed else ("wait" if waiting else "ok"),
    }


def _add(form, field, message) -> bool:
    """Add `message` next to `field` when the form shows that field; answers whether it did."""
    if shows(form, field):
        form.add_error(field, message)
        return True
    return False


def place_rule_error(form, exc: ApplicationError, *, default_field: str | None = None) -> list[dict]:
    """Put a service's error where it belongs (the `place` of `core.pages.run_form_step`). A
    failed rule goes next to its field when the form has it (with its source); the rules that
    belong to no field of this form are returned, for the page's rule list. Any other error goes
    where `core.pages.place_error` puts it."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    rules = extra.get("rules") or []
    if rules:
        leftover = []
        for raw in rules:
            row = rule_row(raw)
            field = row["field"] or (exc.field if len(rules) == 1 else None)
            if not _add(form, field, with_source(row["message"], row["source"])):
                leftover.append(row)
        return leftover
    place_error(form, exc, default_field=default_field)
    return []


def step_gate(request, app: LoanApplication, name: str):
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


def to_int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def application_report(app: LoanApplication) -> dict:
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
    return report_dict(report)


def steps_for(request, app, *, failed: str | None = None, failed_form=None) -> list[dict]:
    """The buttons and small forms for the steps this user may take now, in workflow order."""
    available = selectors.available_transitions(application=app, user=request.user)
    buttons = []
    for name in available:
        offer = steps.offered(name)
        if offer is None:  # the daily task's step (end of publicity) has no button
            continue
        step = {"name": name, "label": STEP_LABELS.get(name, name), "danger": offer.danger}
        if offer.form:
            step["url"] = reverse(offer.form, args=[app.pk])
        else:
            step["url"] = reverse("loans:application_transition", args=[app.pk, name])
            step["reason"] = offer.reason_required
            step["form"] = failed_form if name == failed and failed_form is not None else comment_form(name)
        buttons.append(step)
    # Forward steps first, then the ones that send back, refuse or withdraw.
    buttons.sort(key=lambda s: (s.get("reason", False), s["danger"]))
    # One primary action (the first forward step); the ones that send back, refuse or withdraw
    # are quieter and behind a confirmation that opens their reason box (issue 14). A step
    # refused just now stays open with its errors.
    primary_taken = False
    for step in buttons:
        backward = step.get("reason", False) or step["danger"]
        step["primary"] = not backward and not primary_taken
        primary_taken = primary_taken or step["primary"]
        step["secondary"] = backward
        step["open"] = step["name"] == failed
        step["confirm"] = _("Confirm: %(step)s") % {"step": step["label"]}
    return buttons


def comment_form(name: str, data=None) -> CommentForm:
    step = steps.STEPS[name]
    form = CommentForm(data, prefix=name, reason_required=step.reason_required)
    if step.reason_label:
        form.fields["comment"].label = step.reason_label
    return form


def four_eyes(app, user) -> bool:
    """An approver of the bank who investigated this application: they see it but may not decide."""
    return (
        app.state == State.BANK_APPROVAL
        and user.has_role(Role.APPROVER)
        and app.investigated_by_id is not None
        and app.investigated_by_id == user.pk
    )


# The stages of the progress bar at the top of the application page, in the workflow's order
# (workflow.py): the state each stage is, and its short name.
STAGES = (
    (State.DRAFT, gettext_lazy("Draft")),
    (State.VILLAGE_REVIEW, gettext_lazy("Village review")),
    (State.PUBLICITY, gettext_lazy("Publicity")),
    (State.BANK_ACCEPTANCE, gettext_lazy("Bank acceptance")),
    (State.BANK_APPROVAL, gettext_lazy("Approval")),
    (State.APPROVED, gettext_lazy("Awaiting disbursement")),
    (State.DISBURSED, gettext_lazy("Loan disbursed")),
)
STAGE_ORDER = [state for state, _label in STAGES]
# The transitions that send an application back a step for the reason given with them.
SENT_BACK = ("send_back", "return_to_officer")


def progress(app: LoanApplication, today=None) -> dict:
    """Where the application stands and how long it has waited there: the stages, the current
    one, the days since it entered its state (its last history row, or its creation for a new
    draft; read from the prefetched history) and who acts next. A rejected or withdrawn
    application stops at the stage it left."""
    today = today or timezone.localdate()
    history = list(app.history.all())
    last = max(history, key=lambda h: (h.at, h.pk)) if history else None
    since = timezone.localdate(last.at) if last else timezone.localdate(app.created_at)
    stopped = app.state in (State.REJECTED, State.WITHDRAWN)
    current = last.from_state if stopped and last else app.state
    index = STAGE_ORDER.index(current) if current in STAGE_ORDER else 0
    stages = []
    for i, (state, label) in enumerate(STAGES):
        if i < index or app.state == State.DISBURSED:
            status = "done"
        elif i == index:
            status = "stopped" if stopped else "current"
        else:
            status = "todo"
        stages.append({"state": state, "label": label, "status": status})
    return {
        "stages": stages,
        "stopped": stopped,
        "since": since,
        "days": (today - since).days,
        "final": app.state in (State.DISBURSED, State.REJECTED, State.WITHDRAWN),
        "next": steps.next_actor(app.state),
        # Sent back (to the draft by village review, or to the officer by the approver) and not
        # yet moved on: the reason, who sent it back and when, shown at the top of the page.
        "sent_back": last if last and last.transition in SENT_BACK and last.to_state == app.state else None,
    }


def summary_context(request, app) -> dict:
    borrower = app.borrower
    return {
        "app": app,
        # Masked on every step page (#10): a full number is shown only by the audited "show full
        # ID number" action on the household page the summary links to (DOMAIN §2).
        "borrower_id_number": borrower.id_number_masked,
        "borrower_age": borrower.age_on(timezone.localdate()),
    }
