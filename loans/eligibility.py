"""The eligibility engine (DOMAIN §3). Every rule is a named check with a stable code, a message
for people and the policy text it comes from, judged by the county profile in force on the day
of the action. Checked at submission, again at village approval, at bank approval (with the
approved amount and term) and at disbursement. The borrower's age is judged on the application
date (the day it was submitted) at every one of those steps, whatever day the step is taken.

A report lists every rule, passed or not, so the API and the pages can show the whole picture;
`require_eligible` raises one ApplicationError naming all failed rules at once. What the rules
read (the case, the household's load) is loaded in eligibility_facts.py; the report and the
refusal it becomes are eligibility_report.py."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _

from households.models import Household, Member
from policies.models import PolicyProfile

from .choices import UseMode
from .eligibility_facts import ZERO, Case, application_date, load_case
from .eligibility_report import EligibilityReport, RuleResult, raise_for
from .models import LoanApplication
from .purposes import FORBIDDEN, PRODUCTIVE, Purpose

# Stable rule codes and the texts they come from (DOMAIN §3; the seed's parts and articles).
SOURCES = {
    "registered_poor": "P2 §4(1); P3 §3.1; 银保监发〔2021〕6号（监测对象）",
    "in_lending_county": "P2 §4(1); P3 §3.1",
    "valid_rating": "P1 art.10; P2 §5(1)",
    "age_range": "P3 §3.2; P5 §3(1)1",
    "age_plus_term": "P3 §3.2",
    "capacity": "P3 §3.2",
    "amount_range": "P1 art.2",
    "credit_line": "P1 art.2; P1 art.10; P2 §5(1)",
    "amount_cap_household": "P1 art.25",
    "term_range": "P1 art.2; P3 §2; P5 §3(2)2",
    "productive_purpose": "P2 §4(5); P3 §1",
    "forbidden_purpose": "P2 §4(5)",
    "credit_record": "P1 art.22; P3 §3.7",
    "one_borrower_per_household": "P3 §3.8",
    "bank_account": "P3 §3.6",
    "use_mode": "P1 art.28; P2 §4(4)",
}
INDIRECT_SOURCE = "P2 §4(4)2; P2 §4(6)"


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}"


# ---- the checks ------------------------------------------------------------------------------
# Each takes the loaded case and answers (passed, message, field). The order is the order a
# person reads the application form in: who, their rating, the money, the purpose, the record.


def _registered_poor(c: Case):
    if c.borrower.household_id != c.household.pk:
        return False, _("The borrower is not a member of this household."), "borrower"
    if c.household.is_monitored:
        if c.profile.allow_monitored_households:
            return True, _("A household under monitoring; this county's policy lets it borrow."), "household"
        return (
            False,
            _("Households under monitoring may not borrow under this county's policy in force on %(date)s.")
            % {"date": c.on_date},
            "household",
        )
    if c.household.poverty_status == Household.PovertyStatus.EXITED:
        return (
            True,
            _("A registered poor household that has exited poverty; it may still borrow."),
            "household",
        )
    if c.household.poverty_status == Household.PovertyStatus.NOT_EXITED:
        return True, _("A registered poor household."), "household"
    return False, _("The household is not a registered poor household."), "household"


def _in_lending_county(c: Case):
    # True by construction (the profile is looked up by the household's county); kept as a rule so
    # the report states it and a future cross-county profile lookup cannot skip it silently.
    if c.profile.county_id == c.county_id:
        return True, _("The household lives in the lending county."), "household"
    return False, _("The household does not live in the county whose policy applies."), "household"


def _valid_rating(c: Case):
    if c.rating is None:
        return (
            False,
            _("The household has no credit rating valid on %(date)s; the bank must rate it first.")
            % {"date": c.on_date},
            "household",
        )
    if not c.rating.is_valid_on(c.on_date):
        return (
            False,
            _("The household's rating in force on %(date)s is below the lowest grade, so it may not borrow.")
            % {"date": c.on_date},
            "household",
        )
    return (
        True,
        _("Rated %(grade)s, valid until %(valid_to)s.")
        % {"grade": c.rating.get_grade_display(), "valid_to": c.rating.valid_to},
        "household",
    )


def _age(c: Case) -> int:
    return c.borrower.age_on(c.applied_on)


def _age_range(c: Case):
    age, low, high = _age(c), c.profile.age_min, c.profile.age_max
    params = {"age": age, "date": c.applied_on, "min": low, "max": high}
    if low <= age <= high:
        return (
            True,
            _("The borrower is %(age)d on the application date %(date)s, within %(min)d to %(max)d.")
            % params,
            "borrower",
        )
    return (
        False,
        _(
            "The borrower is %(age)d on the application date %(date)s; this county lends to borrowers aged "
            "%(min)d to %(max)d."
        )
        % params,
        "borrower",
    )


def _nth_birthday(birth_date: datetime.date, years: int) -> datetime.date:
    # Someone born on 29 February has no birthday in a common year. relativedelta puts it on
    # 28 February, the day before idnumbers.age_on counts the year complete (1 March): the
    # conservative reading of "maturity no later than the 60th birthday", so no loan runs past
    # the day the borrower may already count as 60.
    return birth_date + relativedelta(years=years)


def _longest_term(start: datetime.date, last_day: datetime.date) -> int:
    """The most whole months from `start` whose end is on or before `last_day` (may be < 0)."""
    months = (last_day.year - start.year) * 12 + (last_day.month - start.month)
    if start + relativedelta(months=months) > last_day:
        months -= 1
    return months


def _age_plus_term(c: Case):
    limit = c.profile.age_plus_term_max
    if limit is None:
        return True, _("This county sets no limit on age plus term."), "term_months"
    # Age + term ≤ limit, compared by dates rather than completed years: the loan must mature no
    # later than the borrower's birthday of that age. A borrower of 58 years and 5 months may then
    # borrow for 19 months, not 24. The loan runs from the application date, or from the day of
    # this step when that is later: a loan disbursed weeks after its application matures weeks
    # later too, and it is the contract's maturity that must come before the birthday.
    start = max(c.applied_on, c.on_date)
    maturity = start + relativedelta(months=c.term_months)
    birthday = _nth_birthday(c.borrower.birth_date, limit)
    params = {
        "start": start,
        "term": c.term_months,
        "maturity": maturity,
        "limit": limit,
        "birthday": birthday,
    }
    if maturity <= birthday:
        return (
            True,
            _(
                "Counted %(term)d months from %(start)s the loan matures on %(maturity)s, no later than "
                "%(birthday)s, when the borrower turns %(limit)d."
            )
            % params,
            "term_months",
        )
    longest = _longest_term(start, birthday)
    if longest >= 1:
        return (
            False,
            _(
                "Counted %(term)d months from %(start)s the loan would mature on %(maturity)s, after "
                "%(birthday)s, when the borrower turns %(limit)d; age plus term may be at most %(limit)d "
                "years, so the term can be at most %(longest)d months."
            )
            % {**params, "longest": longest},
            "term_months",
        )
    return (
        False,
        _(
            "Counted %(term)d months from %(start)s the loan would mature on %(maturity)s, after "
            "%(birthday)s, when the borrower turns %(limit)d; age plus term may be at most %(limit)d "
            "years, which leaves no room for a loan."
        )
        % params,
        "term_months",
    )


def _capacity(c: Case):
    if not c.capacity_attested:
        return (
            False,
            _("Confirm that the borrower has full civil capacity and labour or business capacity."),
            "capacity_attested",
        )
    if c.borrower.labour_capacity == Member.Labour.NONE:
        return (
            False,
            _("The borrower is recorded as having no labour capacity; choose a member who can work."),
            "borrower",
        )
    return True, _("Full civil capacity and labour or business capacity confirmed."), "capacity_attested"


def _amount_range(c: Case):
    limit = c.profile.amount_max
    if c.amount is None:
        return False, _("Enter the amount in yuan."), "amount"
    params = {"amount": _yuan(c.amount), "limit": _yuan(limit)}
    if c.amount <= 0:
        return False, _("The amount must be more than zero."), "amount"
    if c.amount > limit:
        return False, _("%(amount)s yuan is above the limit of %(limit)s yuan per loan.") % params, "amount"
    return True, _("%(amount)s yuan is within the limit of %(limit)s yuan per loan.") % params, "amount"


def _credit_line(c: Case):
    if c.rating is None or not c.rating.is_valid_on(c.on_date):
        return False, _("Without a valid rating the household has no credit line."), "amount"
    if c.amount is None:
        return False, _("Enter the amount in yuan."), "amount"
    # The line is what the household may owe at once, not the size of one loan (P1 art.10):
    # its open loans and its other applications in flight draw on it too, the same load the
    # household cap counts.
    line = c.rating.credit_limit
    used = c.household_total
    headroom = max(line - used, ZERO)
    after = used + (c.amount if c.amount > 0 else ZERO)
    params = {
        "line": _yuan(line),
        "used": _yuan(used),
        "amount": _yuan(c.amount),
        "headroom": _yuan(headroom),
    }
    if after > line:
        return (
            False,
            _(
                "The household's credit line is %(line)s yuan and %(used)s yuan of it is already used by "
                "loans outstanding and applications in progress; %(amount)s yuan more would exceed it. At "
                "most %(headroom)s yuan can still be drawn."
            )
            % params,
            "amount",
        )
    return (
        True,
        _(
            "Credit line %(line)s yuan: %(used)s yuan already used, %(amount)s yuan for this loan, within "
            "the %(headroom)s yuan still available."
        )
        % params,
        "amount",
    )


def _amount_cap_household(c: Case):
    limit = c.profile.household_total_max
    current = c.household_total
    headroom = max(limit - current, ZERO)
    after = current + (c.amount if c.amount is not None and c.amount > 0 else ZERO)
    params = {
        "current": _yuan(current),
        "after": _yuan(after),
        "limit": _yuan(limit),
        "headroom": _yuan(headroom),
    }
    if after > limit:
        return (
            False,
            _(
                "The household already has %(current)s yuan outstanding or applied for; with this loan it "
                "would reach %(after)s yuan, above the limit of %(limit)s yuan. At most %(headroom)s yuan "
                "can still be lent."
            )
            % params,
            "amount",
        )
    return (
        True,
        _(
            "The household has %(current)s yuan outstanding or applied for; with this loan %(after)s of "
            "%(limit)s yuan."
        )
        % params,
        "amount",
    )


def _term_range(c: Case):
    params = {"term": c.term_months, "min": c.profile.term_min_months, "max": c.profile.term_max_months}
    if c.profile.term_min_months <= c.term_months <= c.profile.term_max_months:
        return True, _("%(term)d months is within %(min)d to %(max)d months.") % params, "term_months"
    return (
        False,
        _("A term of %(term)d months is outside this county's %(min)d to %(max)d months.") % params,
        "term_months",
    )


def _productive_purpose(c: Case):
    code = c.purpose_category
    if code not in Purpose.values:
        return (
            False,
            _("Unknown purpose “%(code)s”: choose one from the list.") % {"code": code},
            "purpose_category",
        )
    if code in PRODUCTIVE:
        return (
            True,
            _("%(purpose)s is a productive purpose.") % {"purpose": Purpose(code).label},
            "purpose_category",
        )
    return (
        False,
        _(
            "This is not a productive purpose. These loans are for planting and breeding, rural tourism, "
            "repair, processing, catering or small shop services, and sales and purchasing."
        ),
        "purpose_category",
    )


def _forbidden_purpose(c: Case):
    if c.purpose_category in FORBIDDEN:
        return (
            False,
            _(
                "This purpose is forbidden: these loans may not pay for house building, wealth management, "
                "household goods or other non-productive spending, nor for government financing platforms, "
                "real estate or infrastructure."
            ),
            "purpose_category",
        )
    return True, _("The purpose is not a forbidden one."), "purpose_category"


def _credit_record(c: Case):
    if c.blacklisted:
        return (
            False,
            _("The household is on the blacklist and gets no new support until it has repaid."),
            "household",
        )
    return True, _("The household is not on the blacklist."), "household"


def _one_borrower(c: Case):
    if c.load.other_member_busy:
        return (
            False,
            _(
                "Another member of this household already has an open loan or an application in progress; "
                "a household borrows through one member."
            ),
            "borrower",
        )
    return True, _("No other member of the household borrows."), "borrower"


def _bank_account(c: Case):
    if (c.bank_account_no or "").strip():
        return True, _("The account at the lending bank is given."), "bank_account_no"
    return False, _("Enter the borrower's account at the lending bank."), "bank_account_no"


def _use_mode(c: Case):
    mode = c.use_mode
    if mode == UseMode.SELF:
        return True, _("The household borrows, uses and repays the loan itself."), "use_mode"
    if mode == UseMode.ENTRUSTED:
        cutoff = c.profile.entrusted_cutoff
        if c.on_date > cutoff:
            return (
                False,
                _(
                    "Entrusting the loan to an enterprise (dividends, re-lending) is forbidden for loans "
                    "issued after %(cutoff)s; the household must use the money itself."
                )
                % {"cutoff": cutoff},
                "use_mode",
            )
        return (
            True,
            _("Entrusted use was still allowed for loans issued on or before %(cutoff)s.")
            % {"cutoff": cutoff},
            "use_mode",
        )
    if mode == UseMode.INDIRECT:
        if not c.profile.allow_indirect_mode:
            return (
                False,
                _("This county's policy does not allow the indirect mode through an implementing entity."),
                "use_mode",
            )
        if not c.entity_attested:
            return (
                False,
                _(
                    "Confirm that the implementing entity is registered, holds a settlement account at a "
                    "local bank, is creditworthy and has no unresolved lawsuits."
                ),
                "entity_attested",
            )
        return True, _("Indirect mode through an attested implementing entity."), "use_mode"
    return False, _("Unknown use mode “%(mode)s”.") % {"mode": mode}, "use_mode"


Check = Callable[[Case], tuple[bool, str, str | None]]

RULES: tuple[tuple[str, Check], ...] = (
    ("registered_poor", _registered_poor),
    ("in_lending_county", _in_lending_county),
    ("valid_rating", _valid_rating),
    ("age_range", _age_range),
    ("age_plus_term", _age_plus_term),
    ("capacity", _capacity),
    ("amount_range", _amount_range),
    ("credit_line", _credit_line),
    ("amount_cap_household", _amount_cap_household),
    ("term_range", _term_range),
    ("productive_purpose", _productive_purpose),
    ("forbidden_purpose", _forbidden_purpose),
    ("credit_record", _credit_record),
    ("one_borrower_per_household", _one_borrower),
    ("bank_account", _bank_account),
    ("use_mode", _use_mode),
)
RULE_CODES = tuple(code for code, _check in RULES)


def _source(code: str, case: Case) -> str:
    if code == "use_mode" and case.use_mode == UseMode.INDIRECT:
        return INDIRECT_SOURCE
    return SOURCES[code]


# ---- judging ---------------------------------------------------------------------------------


def evaluate(
    *,
    household: Household,
    borrower: Member,
    amount,
    term_months: int,
    purpose_category: str,
    on_date: datetime.date,
    applied_on: datetime.date | None = None,
    use_mode: str = UseMode.SELF,
    capacity_attested: bool = True,
    bank_account_no: str = "x",
    entity_attested: bool = False,
    application: LoanApplication | None = None,
    stage: str = "submission",
) -> EligibilityReport:
    """Every rule of DOMAIN §3 for this loan, under the household's county profile in force on
    `on_date` (the day of the action, DOMAIN §10). The borrower's age is taken on `applied_on`,
    the application date (`on_date` when not given: a pre-check judges a loan applied for
    today). `application`, when given, is left out of the household's sums. The defaults of
    the attestation and account arguments let a pre-check run before the form asks for them.
    `stage` names the step (submission, village_approval, approval, disbursement): the rules are
    the same at every step, which is what DOMAIN §3 asks, so it is carried only into errors.

    Raises PolicyProfileMissing when the county has no profile in force on that day."""
    case = load_case(
        household=household,
        borrower=borrower,
        amount=amount,
        term_months=term_months,
        purpose_category=purpose_category,
        on_date=on_date,
        applied_on=applied_on,
        use_mode=use_mode,
        capacity_attested=capacity_attested,
        bank_account_no=bank_account_no,
        entity_attested=entity_attested,
        application=application,
    )
    results = []
    for code, check in RULES:
        passed, message, field = check(case)
        results.append(RuleResult(code, passed, str(message), _source(code, case), field))
    return EligibilityReport(results)


def registered_poor_check(
    *, household: Household, borrower: Member, profile: PolicyProfile, on_date: datetime.date
) -> RuleResult:
    """The registered_poor rule alone, for servicing steps (extension, renewal) that ask whether
    the household still meets the conditions (P5 §3(2)2) without judging a whole new loan."""
    case = SimpleNamespace(household=household, borrower=borrower, profile=profile, on_date=on_date)
    passed, message, field = _registered_poor(case)
    return RuleResult("registered_poor", passed, str(message), SOURCES["registered_poor"], field)


def require_eligible(**kwargs) -> EligibilityReport:
    """`evaluate`, raising ApplicationError("rule_failed") that lists every failed rule."""
    report = evaluate(**kwargs)
    return raise_for(report, kwargs.get("stage", "submission"))


def _application_kwargs(application: LoanApplication, *, on_date, stage, amount=None, term_months=None):
    return {
        "household": application.household,
        "borrower": application.borrower,
        "amount": application.amount if amount is None else amount,
        "term_months": application.term_months if term_months is None else term_months,
        "purpose_category": application.purpose_category,
        "on_date": on_date,
        "applied_on": application_date(application, on_date),
        "use_mode": application.use_mode,
        "capacity_attested": application.capacity_attested,
        "bank_account_no": application.bank_account_no,
        "entity_attested": application.entity_attested,
        "application": application,
        "stage": stage,
    }


def evaluate_application(
    application: LoanApplication, *, on_date: datetime.date, stage: str, amount=None, term_months=None
) -> EligibilityReport:
    """The rules for a stored application; `amount`/`term_months` replace the requested ones at
    the approval step, where the approved amount and term are judged."""
    return evaluate(
        **_application_kwargs(
            application, on_date=on_date, stage=stage, amount=amount, term_months=term_months
        )
    )


def require_application_eligible(
    application: LoanApplication, *, on_date: datetime.date, stage: str, amount=None, term_months=None
) -> EligibilityReport:
    report = evaluate_application(
        application, on_date=on_date, stage=stage, amount=amount, term_months=term_months
    )
    return raise_for(report, stage)


__all__ = [
    "RULE_CODES",
    "evaluate",
    "evaluate_application",
    "registered_poor_check",
    "require_application_eligible",
    "require_eligible",
]
