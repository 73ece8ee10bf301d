"""Whether a household may start a new loan application today and, when it may not, why: the
household page offers "new loan application" only when one is possible and otherwise says what
stands in the way (issue 14).

The rules are the eligibility engine's own (eligibility.py), judged on the case it loads: the
household's rules (registered poor, in the county, a valid rating, not blacklisted) as they are,
and the borrower's rules (age, labour capacity) for each member, so a household whose members are
all too old or cannot work is told so. What the engine cannot know before a form is filled in
(amount, term, purpose) is left to the form. Two things are this page's own, not rules: an
application already in progress (a draft included) is continued rather than started again, and
a household with an open loan asks for more through that loan's page (additional loan or renewal,
P1 art.23-26), not through a new application."""

from __future__ import annotations

import calendar
import dataclasses
import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from core.exceptions import ApplicationError
from core.templatetags.core_tags import money
from households import selectors as household_selectors
from households.models import Household, Member
from policies.models import PolicyProfile

from . import eligibility
from .choices import UseMode
from .eligibility_facts import load_case
from .models import Loan, LoanApplication
from .workflow import IN_FLIGHT_STATES, State

HOUSEHOLD_RULES = ("registered_poor", "in_lending_county", "valid_rating", "credit_record")
BORROWER_RULES = ("age_range", "capacity")
BUSY_STATES = (State.DRAFT, *IN_FLIGHT_STATES)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    source: str = ""
    # What the reason is about, for a link when the user may open it.
    application_id: int | None = None
    loan_id: int | None = None


@dataclass(frozen=True)
class Outlook:
    reasons: list[Reason] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        return not self.reasons


def _rule_reasons(case, codes) -> list[Reason]:
    checks = dict(eligibility.RULES)
    reasons = []
    for code in codes:
        passed, message, _field = checks[code](case)
        if not passed:
            reasons.append(Reason(code, str(message), eligibility.SOURCES[code]))
    return reasons


def _borrower_reason(case, members) -> Reason | None:
    """None when at least one member passes the borrower's rules; else one reason listing why
    each member cannot borrow."""
    checks = dict(eligibility.RULES)
    failures = []
    for member in members:
        messages = []
        for code in BORROWER_RULES:
            passed, message, _field = checks[code](dataclasses.replace(case, borrower=member))
            if not passed:
                messages.append(str(message))
        if not messages:
            return None
        failures.append(_("%(name)s: %(reasons)s") % {"name": member.name, "reasons": " ".join(messages)})
    parts = (part for c in BORROWER_RULES for part in eligibility.SOURCES[c].split("; "))
    sources = "; ".join(dict.fromkeys(parts))
    return Reason(
        "no_borrower",
        _("No member of the household can be the borrower. %(members)s")
        % {"members": pgettext("list separator", "; ").join(failures)},
        sources,
    )


def _busy_reasons(household: Household) -> list[Reason]:
    reasons = []
    busy = (
        LoanApplication.objects.filter(household=household, state__in=BUSY_STATES)
        .order_by("-created_at", "-id")
        .first()
    )
    if busy is not None:
        if busy.state == State.DRAFT:
            message = _("Application #%(no)d is a draft not yet submitted: continue that draft.") % {
                "no": busy.pk
            }
        else:
            message = _(
                "Application #%(no)d is in progress (%(state)s); the household has one application at a time."
            ) % {"no": busy.pk, "state": busy.get_state_display()}
        reasons.append(Reason("application_in_progress", message, application_id=busy.pk))
    loan = (
        Loan.objects.filter(household=household, state__in=Loan.OPEN_STATES)
        .order_by("-disbursed_on", "-id")
        .first()
    )
    if loan is not None:
        reasons.append(
            Reason(
                "open_loan",
                _(
                    "The household has an open loan (contract %(contract)s, %(outstanding)s yuan "
                    "outstanding): an additional loan or a renewal is applied for on that loan's page."
                )
                % {"contract": loan.contract_no, "outstanding": money(loan.outstanding)},
                "P1 art.23-26",
                loan_id=loan.pk,
            )
        )
    return reasons


def new_application_outlook(household: Household, *, on_date: datetime.date) -> Outlook:
    """Why `household` cannot start a new application on `on_date` (no reasons: it can). The
    members come from the household's prefetched members. A bounded number of queries: the
    profile, the rating, the blacklist and the household's load (the engine's case), one for an
    application in progress and one for an open loan."""
    members = list(household.members.all())
    if not members:
        return Outlook([Reason("no_members", _("The household has no members."))])
    head = household_selectors.head_of(household) or members[0]
    try:
        case = load_case(
            household=household,
            borrower=head,
            amount=None,
            term_months=0,
            purpose_category="",
            on_date=on_date,
            applied_on=None,
            use_mode=UseMode.SELF,
            capacity_attested=True,
            bank_account_no="",
            entity_attested=False,
            application=None,
        )
    except ApplicationError as e:
        return Outlook([Reason("profile_missing", str(e.message))])
    reasons = _rule_reasons(case, HOUSEHOLD_RULES)
    reasons += _busy_reasons(household)
    no_borrower = _borrower_reason(case, members)
    if no_borrower is not None:
        reasons.append(no_borrower)
    return Outlook(reasons)


# ---- the households list's "could apply now" filter (registered in loans/apps.py) ------------


def household_free_to_apply() -> Q:
    """Households with no open loan and no application in progress (DOMAIN §3: one loan at a time
    per household; a draft counts, as on the household page, since it is continued rather than
    started again) — the loans part of the households list's "could apply now" filter,
    registered with households.apply_conditions in loans/apps.py."""
    return ~Q(Exists(Loan.objects.filter(household=OuterRef("pk"), state__in=Loan.OPEN_STATES))) & ~Q(
        Exists(LoanApplication.objects.filter(household=OuterRef("pk"), state__in=BUSY_STATES))
    )


def _latest_birth_date(on: datetime.date, years: int) -> datetime.date:
    """The latest birth date of someone at least `years` old on `on`, counted as
    households.idnumbers.age_on counts (born 29 February: a year older on 1 March)."""
    year = on.year - years
    day = min(on.day, calendar.monthrange(year, on.month)[1])
    return datetime.date(year, on.month, day)


def household_could_borrow(on: datetime.date | None = None) -> Q:
    """Households the eligibility engine's household and borrower rules let apply today, as a
    query condition (the households list's "could apply now", registered in loans/apps.py, so the
    list agrees with the household page's loans/household_outlook.py): registered poor (monitored
    households only where the county's profile in force allows them), in a county with a profile
    in force, and with a member of the profile's age range who can work (eligibility
    registered_poor, in_lending_county, age_range, capacity). One query for the profiles."""
    on = on or timezone.localdate()
    latest: dict[int, PolicyProfile] = {}
    in_force = PolicyProfile.objects.filter(effective_from__lte=on).order_by("county_id", "-effective_from")
    for profile in in_force:
        latest.setdefault(profile.county_id, profile)
    condition = Q(pk__in=[])
    for county_id, profile in latest.items():
        statuses = [Household.PovertyStatus.NOT_EXITED, Household.PovertyStatus.EXITED]
        if profile.allow_monitored_households:
            statuses += list(Household.MONITORED)
        borrower = Member.objects.filter(
            household=OuterRef("pk"),
            birth_date__lte=_latest_birth_date(on, profile.age_min),
            birth_date__gt=_latest_birth_date(on, profile.age_max + 1),
        ).exclude(labour_capacity=Member.Labour.NONE)
        in_county = Q(village__parent__parent_id=county_id, poverty_status__in=statuses)
        condition |= in_county & Q(Exists(borrower))
    return condition
