"""Changes to a loan after disbursement (DOMAIN §5): extension (展期), renewal (续贷) and
additional loans (追加贷款). What is recorded about the borrower and the loan's cover (a malicious
defaulter, a death or disability, insurance, the borrower's account) is borrowers.py, on the
helpers below.

Every limit is a named rule with the policy text it comes from; a refusal names every broken
rule at once. The role is checked first, then the scope, then the rules, so the answer to
someone who may not act never reveals the household's situation."""

from __future__ import annotations

import datetime
from decimal import ROUND_FLOOR, Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from households import selectors as household_selectors
from households.models import Member
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for

from .. import eligibility, lifecycle, selectors
from ..choices import UseMode
from ..classification import classification_floor, worse
from ..models import ClassificationChange, Extension, Loan, LoanApplication
from ..permissions import require_loan_in_scope
from ..workflow import State
from . import applications

SOURCES = {
    "loan_open": "DOMAIN §5: only an open loan is extended or renewed",
    "cooperative_loan": "P1 art.27",
    "credit_record": "P1 art.22; P1 art.27; P5 §3(2)2",
    "registered_poor": eligibility.SOURCES["registered_poor"] + "; P5 §3(2)2",
    "extension_once": "P5 §3(2)2",
    "extension_length": "P5 §3(2)2",
    "renewal_once": "P5 §3(2)2",
    "renewal_term": "P5 §3(2)2",
    "renewal_amount": "P1 art.25-26: a renewal replaces the outstanding principal",
    "payout_within_loan": "P1 art.21: the insurer pays the loan first, at most the loan's amount",
}
# The reason kept with the classification change an approved extension makes (data, like
# servicing.AUTO_REASON).
EXTENSION_CLASS_REASON = "展期贷款至少为关注类"
# Requested and approved extensions count towards the limit; a rejected one does not.
COUNTED_EXTENSIONS = (Extension.Status.REQUESTED, Extension.Status.APPROVED)
# Renewals that are on their way or done count towards the limit; refused or withdrawn do not.
COUNTED_RENEWAL_STATES = tuple(s for s in State.values if s not in (State.REJECTED, State.WITHDRAWN))


def _today() -> datetime.date:
    return timezone.localdate()


def rule_failure(rule: str, message) -> dict:
    return {"rule": rule, "message": str(message), "source": SOURCES[rule]}


def refuse(failures: list[dict], field: str | None = None) -> None:
    """Raise one rule_failed error naming every broken rule, in the eligibility engine's shape."""
    if not failures:
        return
    if len(failures) == 1:
        message = failures[0]["message"]
    else:
        message = _("%(count)d rules are not met: %(messages)s") % {
            "count": len(failures),
            "messages": " ".join(f["message"] for f in failures),
        }
    raise ApplicationError(message, "rule_failed", {"rules": failures}, field=field)


def lock_loan(loan: Loan) -> Loan:
    """The loan under a row lock: two changes to one loan at once take turns, and the second
    sees what the first did (an extension already requested, a loan already renewed)."""
    return fsm.lock(loan, related=("household__village__parent__parent", "borrower", "branch__parent"))


def _profile(loan: Loan, on_date: datetime.date) -> PolicyProfile:
    return profile_for(county=county_of(loan.household.village), on_date=on_date)


def _common_failures(loan: Loan, profile: PolicyProfile, on_date: datetime.date, action) -> list[dict]:
    """What bars both extension and renewal (DOMAIN §5, P1 art.27, P5 §3(2)2)."""
    failures = []
    if loan.state not in Loan.OPEN_STATES:
        failures.append(
            rule_failure(
                "loan_open",
                _("This loan is %(state)s; only an open loan can be %(action)s.")
                % {"state": loan.get_state_display(), "action": action},
            )
        )
    if loan.use_mode != UseMode.SELF:
        failures.append(
            rule_failure(
                "cooperative_loan",
                _("A cooperative or entrusted loan (%(mode)s) cannot be %(action)s.")
                % {"mode": loan.get_use_mode_display(), "action": action},
            )
        )
    if household_selectors.active_blacklist_entry(loan.household) is not None:
        failures.append(
            rule_failure(
                "credit_record",
                _(
                    "The household is on the blacklist (a serious violation or major bad record), so the "
                    "loan cannot be %(action)s."
                )
                % {"action": action},
            )
        )
    poor = eligibility.registered_poor_check(
        household=loan.household, borrower=loan.borrower, profile=profile, on_date=on_date
    )
    if not poor.passed:
        failures.append(
            rule_failure(
                "registered_poor",
                _("The household no longer meets the conditions: %(why)s") % {"why": poor.message},
            )
        )
    return failures


# ---------------------------------------------------------------------------------------------
# Extension (展期)


def extension_max_months(loan: Loan, profile: PolicyProfile) -> int:
    """P5 §3(2)2: a loan of a year or less is extended at most a year; a longer loan at most
    half its original term, in whole months (rounded down, so never above the half)."""
    if loan.term_months <= 12:
        return profile.extension_short_max_months
    share = Decimal(loan.term_months) * profile.extension_long_max_fraction
    return int(share.to_integral_value(rounding=ROUND_FLOOR))


def _extension_failures(loan: Loan, profile: PolicyProfile, on_date: datetime.date) -> list[dict]:
    """What bars any extension of the loan, whatever its length."""
    failures = _common_failures(loan, profile, on_date, _("extended"))
    done = loan.extensions.filter(status__in=COUNTED_EXTENSIONS).count()
    if done >= profile.extension_max_count:
        failures.append(
            rule_failure(
                "extension_once",
                _(
                    "This loan already has %(done)d extension requested or approved; "
                    "at most %(max)d is allowed."
                )
                % {"done": done, "max": profile.extension_max_count},
            )
        )
    return failures


def extension_obstacles(loan: Loan) -> list[dict]:
    """The rules that bar any extension of the loan today (the request's rules but the length):
    the loan page shows them instead of the button, the request form above its fields."""
    today = _today()
    return _extension_failures(loan, _profile(loan, today), today)


def renewal_obstacles(loan: Loan) -> list[dict]:
    """The rules that bar any renewal of the loan today, whatever its amount and term."""
    today = _today()
    return _renewal_failures(loan, _profile(loan, today), today, amount=None, term_months=0)


def can_request_extension(user, loan: Loan) -> bool:
    return user.has_role(Role.LOAN_OFFICER) and user.unit_id == loan.branch_id


def can_decide_extension(user, loan: Loan) -> bool:
    return user.has_role(Role.APPROVER) and user.unit_id in (loan.branch_id, loan.branch.parent_id)


@transaction.atomic
def extension_request(*, acting_user, loan: Loan, months: int, reason: str) -> Extension:
    """A loan officer of the loan's branch asks for an extension for a borrower who cannot repay
    for non-subjective reasons; an approver other than the officer decides."""
    loan = lock_loan(loan)
    if not can_request_extension(acting_user, loan):
        raise NotPermitted(_("Only a loan officer of the loan's branch requests its extension."))
    require_loan_in_scope(acting_user, loan)
    reason = fsm.require_reason(reason, "reason")
    try:
        months = int(months)
    except (TypeError, ValueError):
        months = 0
    if months < 1:
        raise ApplicationError(_("The extension must be at least one month."), "invalid", field="months")
    today = _today()
    profile = _profile(loan, today)
    failures = _extension_failures(loan, profile, today)
    limit = extension_max_months(loan, profile)
    if months > limit:
        failures.append(
            rule_failure(
                "extension_length",
                _("A loan of %(term)d months may be extended by at most %(limit)d months; %(months)d asked.")
                % {"term": loan.term_months, "limit": limit, "months": months},
            )
        )
    refuse(failures, field="months")
    extension = Extension(
        loan=loan,
        months=months,
        old_maturity_on=loan.maturity_on,
        new_maturity_on=loan.maturity_on + relativedelta(months=months),
        reason=reason,
        requested_by=acting_user,
        requested_on=today,
    )
    extension.full_clean()
    extension.save()
    audit(
        actor=acting_user,
        action="loan.extension_request",
        obj=loan,
        reason=reason,
        data={"extension": extension.pk, "months": months, "new_maturity_on": str(extension.new_maturity_on)},
    )
    return extension


@transaction.atomic
def extension_decide(*, acting_user, extension: Extension, approve: bool, comment: str = "") -> Extension:
    """An approver of the bank, never the officer who asked (four-eyes), approves or rejects.
    Approval moves the maturity, marks the loan extended and classifies it at least special
    mention (DOMAIN §5)."""
    extension = Extension.objects.select_for_update().get(pk=extension.pk)
    loan = lock_loan(extension.loan)
    if not can_decide_extension(acting_user, loan):
        raise NotPermitted(_("Only an approver of the loan's bank decides on its extension."))
    require_loan_in_scope(acting_user, loan)
    if acting_user.pk == extension.requested_by_id:
        raise NotPermitted(
            _("You requested this extension, so another approver must decide on it (four-eyes)."),
            "four_eyes",
        )
    if extension.status != Extension.Status.REQUESTED:
        raise ConflictError(
            _("This extension has already been decided (%(status)s).")
            % {"status": extension.get_status_display()},
            "already_decided",
        )
    comment = (comment or "").strip()
    if not approve:
        fsm.require_reason(comment, "comment")
    elif loan.state not in Loan.OPEN_STATES or loan.maturity_on != extension.old_maturity_on:
        raise ConflictError(
            _("The loan has changed since the extension was requested; request it again."), "loan_changed"
        )
    today = _today()
    extension.status = Extension.Status.APPROVED if approve else Extension.Status.REJECTED
    extension.decided_by = acting_user
    extension.decided_on = today
    extension.decision_comment = comment
    extension.full_clean()
    extension.save()
    if approve:
        profile = _profile(loan, today)
        floor = classification_floor(profile, loan.days_past_due, extended=True)
        new_class = worse(loan.classification, floor)
        if new_class != loan.classification:
            ClassificationChange.objects.create(
                loan=loan,
                from_class=loan.classification,
                to_class=new_class,
                floor=floor,
                days_past_due=loan.days_past_due,
                reason=EXTENSION_CLASS_REASON,
                by=acting_user,
            )
        loan.maturity_on = extension.new_maturity_on
        lifecycle.take(loan, "extend", acting_user, comment)
        loan.classification = new_class
        loan.save(update_fields=["maturity_on", "state", "classification"])
    audit(
        actor=acting_user,
        action="loan.extension_approve" if approve else "loan.extension_reject",
        obj=loan,
        reason=comment,
        data={"extension": extension.pk, "new_maturity_on": str(extension.new_maturity_on)},
    )
    return extension


def extensions_to_decide(*, user):
    """Requested extensions of loans in the user's area, oldest first."""
    return (
        Extension.objects.filter(
            status=Extension.Status.REQUESTED, loan__in=selectors.loan_list(user=user).values("pk")
        )
        .select_related("loan__household__village", "loan__borrower", "loan__branch", "requested_by")
        .order_by("requested_on", "id")
    )


# ---------------------------------------------------------------------------------------------
# Renewal (续贷) and additional loans (追加贷款)


def chain_root(loan: Loan) -> Loan:
    """The first loan of the chain this loan continues. New renewals point straight at it, so
    the walk is one step; imported chains may be longer, and a cycle cannot loop for ever."""
    seen = {loan.pk}
    while loan.original_loan_id is not None and loan.original_loan_id not in seen:
        loan = Loan.objects.get(pk=loan.original_loan_id)
        seen.add(loan.pk)
    return loan


def _chain_renewals(loan: Loan) -> int:
    """Renewal applications, in flight or disbursed, on any loan of this loan's chain."""
    root = chain_root(loan)
    chain = Loan.objects.filter(Q(pk=root.pk) | Q(original_loan_id=root.pk)).values("pk")
    return LoanApplication.objects.filter(
        kind=LoanApplication.Kind.RENEWAL,
        related_loan__in=chain,
        state__in=COUNTED_RENEWAL_STATES,
    ).count()


def _renewal_failures(loan: Loan, profile: PolicyProfile, on_date, *, amount, term_months) -> list[dict]:
    failures = _common_failures(loan, profile, on_date, _("renewed"))
    done = _chain_renewals(loan)
    if done >= profile.renewal_max_count:
        failures.append(
            rule_failure(
                "renewal_once",
                _("This loan has already been renewed %(done)d time(s); at most %(max)d is allowed.")
                % {"done": done, "max": profile.renewal_max_count},
            )
        )
    if term_months > profile.renewal_max_months:
        failures.append(
            rule_failure(
                "renewal_term",
                _("A renewal may last at most %(max)d months; %(term)d asked.")
                % {"max": profile.renewal_max_months, "term": term_months},
            )
        )
    if amount is not None and amount > loan.outstanding:
        failures.append(
            rule_failure(
                "renewal_amount",
                _(
                    "A renewal replaces the %(outstanding)s yuan outstanding; more money is an additional "
                    "loan."
                )
                % {"outstanding": loan.outstanding},
            )
        )
    return failures


def _follow_up_fields(loan: Loan, fields: dict) -> dict:
    """The new application's form, starting from the loan it follows."""
    values = {"purpose_category": loan.purpose_category, "use_mode": UseMode.SELF}
    values.update({k: v for k, v in fields.items() if v is not None})
    # An imported loan may have no purpose on record; the new application must state one.
    if not values["purpose_category"]:
        raise ApplicationError(_("Choose the purpose."), "invalid", field="purpose_category")
    return values


def _mark(app: LoanApplication, kind: str, loan: Loan) -> LoanApplication:
    app.kind = kind
    app.related_loan = loan
    app.save(update_fields=["kind", "related_loan"])
    return app


def can_start_follow_up(user, loan: Loan) -> bool:
    return user.has_role(Role.VILLAGE_CADRE) and user.unit_id == loan.household.village_id


@transaction.atomic
def renewal_start(
    *,
    acting_user,
    loan: Loan,
    amount: Decimal | None = None,
    term_months: int,
    borrower: Member | None = None,
    **fields,
) -> LoanApplication:
    """A renewal (续贷) application entered by the household's village cadre. It then goes through
    the whole workflow again: village review, publicity and the bank (P1 art.26). Disbursing it
    closes the old loan (applications.application_disburse → renewal_replace)."""
    loan = lock_loan(loan)
    if not can_start_follow_up(acting_user, loan):
        raise NotPermitted(_("Only a cadre of the household's village starts a renewal."))
    require_loan_in_scope(acting_user, loan)
    amount = loan.outstanding if amount is None else Decimal(amount)
    term_months = int(term_months)
    today = _today()
    profile = _profile(loan, today)
    refuse(_renewal_failures(loan, profile, today, amount=amount, term_months=term_months))
    app = applications.application_create(
        acting_user=acting_user,
        household=loan.household,
        borrower=borrower or loan.borrower,
        amount=amount,
        term_months=term_months,
        **_follow_up_fields(loan, fields),
    )
    _mark(app, LoanApplication.Kind.RENEWAL, loan)
    audit(actor=acting_user, action="loan.renewal_start", obj=loan, data={"application": app.pk})
    return app


def renewal_replace(*, acting_user, application: LoanApplication, new_loan: Loan) -> Loan:
    """At the renewal's disbursement (inside its transaction): the new loan joins the old loan's
    chain and the old loan is closed without its principal being repaid.

    The new loan points at the chain's first loan, not at the loan it replaces: the subsidy
    support period runs from the first loan of the chain (P1 art.24, DOMAIN §6), and one step
    finds it."""
    old = lock_loan(application.related_loan)
    profile = _profile(old, new_loan.disbursed_on)
    failures = _common_failures(old, profile, new_loan.disbursed_on, _("renewed"))
    # The renewal being disbursed is one of the chain's renewals; any other one is too many.
    others = _chain_renewals(old) - 1
    if others >= profile.renewal_max_count:
        failures.append(
            rule_failure(
                "renewal_once",
                _("This loan has already been renewed %(done)d time(s); at most %(max)d is allowed.")
                % {"done": others, "max": profile.renewal_max_count},
            )
        )
    if new_loan.amount > old.outstanding:
        failures.append(
            rule_failure(
                "renewal_amount",
                _(
                    "A renewal replaces the %(outstanding)s yuan outstanding; more money is an additional "
                    "loan."
                )
                % {"outstanding": old.outstanding},
            )
        )
    refuse(failures)
    root = chain_root(old)
    new_loan.original_loan = root
    new_loan.save(update_fields=["original_loan"])
    replaced = old.outstanding
    old.outstanding = Decimal("0.00")
    lifecycle.take(old, "replace", acting_user, _("Replaced by a renewal without repaying principal."))
    old.settled_on = new_loan.disbursed_on
    old.days_past_due = 0
    old.save(update_fields=["outstanding", "state", "settled_on", "days_past_due"])
    audit(
        actor=acting_user,
        action="loan.renewal_replace",
        obj=old,
        reason=_("Replaced by a renewal without repaying principal."),
        data={
            "replaced_by": new_loan.pk,
            "application": application.pk,
            "outstanding_replaced": str(replaced),
            "chain_root": root.pk,
        },
    )
    return old


@transaction.atomic
def additional_start(
    *, acting_user, loan: Loan, amount: Decimal, term_months: int, **fields
) -> LoanApplication:
    """An additional loan (追加贷款) to the same borrower, entered by the village cadre. The
    household cap (eligibility's amount_cap_household) counts the existing loan's outstanding,
    and is judged at every step of the workflow."""
    loan = lock_loan(loan)
    if not can_start_follow_up(acting_user, loan):
        raise NotPermitted(_("Only a cadre of the household's village starts an additional loan."))
    require_loan_in_scope(acting_user, loan)
    fields.pop("borrower", None)
    failures = []
    if loan.state not in Loan.OPEN_STATES:
        failures.append(
            rule_failure(
                "loan_open",
                _("This loan is %(state)s; only an open loan can be %(action)s.")
                % {"state": loan.get_state_display(), "action": _("added to")},
            )
        )
    refuse(failures)
    app = applications.application_create(
        acting_user=acting_user,
        household=loan.household,
        borrower=loan.borrower,
        amount=amount,
        term_months=term_months,
        **_follow_up_fields(loan, fields),
    )
    _mark(app, LoanApplication.Kind.ADDITIONAL, loan)
    audit(actor=acting_user, action="loan.additional_start", obj=loan, data={"application": app.pk})
    return app
