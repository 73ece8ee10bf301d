"""The eligibility engine (DOMAIN §3): every rule passes on a good case and fails on the input that
breaks it, all failures are reported at once, the profile in force on the day is the one used,
and the API answers every rule with 200."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone

from core.exceptions import ApplicationError
from households.models import BlacklistEntry, CreditRating, Household, Member
from loans.apis.eligibility import EligibilityView
from loans.eligibility import (
    RULE_CODES,
    evaluate,
    evaluate_application,
    require_application_eligible,
    require_eligible,
)
from loans.models import Loan, LoanApplication
from policies.exceptions import PolicyProfileMissing
from tests.factories import (
    CreditRatingFactory,
    HouseholdFactory,
    LoanFactory,
    MemberFactory,
    PolicyProfileFactory,
    id_number,
)

pytestmark = pytest.mark.django_db

# The API tests mount the view themselves, so they do not depend on how the lead wires the URLs.
urlpatterns = [
    path("api/v1/eligibility/", EligibilityView.as_view()),
    path("", include("config.urls")),
]

ON = datetime.date(2024, 6, 3)
_seq = itertools.count(1)
_contracts = itertools.count(1)


def person(household, birth: datetime.date, **kw) -> Member:
    """A member born on `birth` (an area code the factories never use, so numbers stay unique)."""
    return MemberFactory(household=household, id_number=id_number(birth, next(_seq), area="450399"), **kw)


def rate(world, household, **kw) -> CreditRating:
    fields = dict(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        valid_from=datetime.date(2024, 1, 1),
        valid_to=datetime.date(2024, 12, 31),
    )
    fields.update(kw)
    return CreditRatingFactory(**fields)


def head(household) -> Member:
    return household.members.get(is_head=True)


def loan(world, household, borrower, outstanding, state=Loan.State.ACTIVE, application=None) -> Loan:
    """A loan straight in the book (LoanFactory) with `outstanding` still owed, from 2023-06-01."""
    n = next(_contracts)
    return LoanFactory(
        application=application,
        household=household,
        borrower=borrower,
        branch=world.br1,
        contract_no=f"ELIG-HT-{n}",
        receipt_no=f"ELIG-JJ-{n}",
        amount=max(Decimal(outstanding), Decimal("1000.00")),
        term_months=24,
        disbursed_on=datetime.date(2023, 6, 1),
        maturity_on=datetime.date(2025, 6, 1),
        purpose_category="breeding",
        outstanding=Decimal(outstanding),
        state=state,
        imported=False,
    )


def application(world, household, borrower, amount, state="publicity", **kw) -> LoanApplication:
    app = LoanApplication.objects.create(
        household=household,
        borrower=borrower,
        amount=Decimal(amount),
        term_months=24,
        purpose_category="breeding",
        created_by=world.cadre,
        capacity_attested=True,
        bank_account_no="6230 0000 1111 2222",
        **kw,
    )
    # `state` is protected: tests put an application in a state directly, services never do.
    LoanApplication.objects.filter(pk=app.pk).update(state=state)
    return LoanApplication.objects.get(pk=app.pk)


@pytest.fixture(autouse=True)
def calendar_ahead():
    """Overrides the package's publicity calendar set-up: no rule here counts working days."""


@pytest.fixture
def home(world):
    """A registered poor household in v1a, rated AAA (credit line 50,000) for all of 2024."""
    h = HouseholdFactory(village=world.v1a, head__age=40)
    rate(world, h)
    return h


def run(household, **overrides):
    kwargs = dict(
        household=household,
        amount=Decimal("30000.00"),
        term_months=24,
        purpose_category="breeding",
        on_date=ON,
    )
    kwargs.update(overrides)
    if "borrower" not in kwargs:
        kwargs["borrower"] = head(household)
    return evaluate(**kwargs)


def result(report, rule):
    return next(r for r in report.results if r.rule == rule)


def passes(rule, **overrides):
    r = result(run(**overrides), rule)
    assert r.passed, r.message
    return r


def fails(rule, **overrides):
    r = result(run(**overrides), rule)
    assert not r.passed, r.message
    return r


# ---------------------------------------------------------------------------------------------
# The whole report


def test_a_good_case_passes_every_rule_in_a_stable_order(home):
    report = run(home)
    assert report.eligible
    assert report.failures == []
    assert [r.rule for r in report.results] == list(RULE_CODES)
    assert RULE_CODES == (
        "registered_poor",
        "in_lending_county",
        "valid_rating",
        "age_range",
        "age_plus_term",
        "capacity",
        "amount_range",
        "credit_line",
        "amount_cap_household",
        "term_range",
        "productive_purpose",
        "forbidden_purpose",
        "credit_record",
        "one_borrower_per_household",
        "bank_account",
        "use_mode",
    )
    for r in report.results:
        assert r.message and r.source, r


# ---------------------------------------------------------------------------------------------
# registered_poor, in_lending_county


def test_registered_poor_not_exited_and_exited_households_may_borrow(world, home):
    passes("registered_poor", household=home)
    Household.objects.filter(pk=home.pk).update(poverty_status=Household.PovertyStatus.EXITED)
    home.refresh_from_db()
    passes("registered_poor", household=home)


def test_monitored_households_only_where_the_profile_allows_them(world):
    h = HouseholdFactory(village=world.v1a, poverty_status=Household.PovertyStatus.MONITORED_EDGE)
    rate(world, h)
    r = fails("registered_poor", household=h)
    assert r.field == "household"
    assert "银保监发〔2021〕6号" in r.source
    PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2024, 1, 1), allow_monitored_households=True
    )
    passes("registered_poor", household=h)
    # Before the new profile took effect the old switch applies.
    fails("registered_poor", household=h, on_date=datetime.date(2023, 12, 31))


def test_the_borrower_must_be_a_member_of_the_household(world, home):
    stranger = HouseholdFactory(village=world.v1a)
    r = fails("registered_poor", household=home, borrower=head(stranger))
    assert r.field == "borrower"


def test_the_household_is_judged_in_its_own_county(world):
    # True by construction (the profile is that of the household's county); the rule is reported.
    h = HouseholdFactory(village=world.vz)
    rate(world, h, profile=world.other_profile)
    r = passes("in_lending_county", household=h)
    assert r.source == "P2 §4(1); P3 §3.1"


# ---------------------------------------------------------------------------------------------
# valid_rating, credit_line


def test_no_rating_fails(world):
    h = HouseholdFactory(village=world.v1a)
    r = fails("valid_rating", household=h)
    assert r.field == "household"
    fails("credit_line", household=h)


def test_an_expired_rating_fails(world):
    h = HouseholdFactory(village=world.v1a)
    rate(world, h, valid_from=datetime.date(2023, 1, 1), valid_to=datetime.date(2023, 12, 31))
    fails("valid_rating", household=h)
    passes("valid_rating", household=h, on_date=datetime.date(2023, 12, 31))
    # A rating that starts tomorrow is not valid today either.
    fails("valid_rating", household=h, on_date=datetime.date(2022, 12, 31))


def test_a_rating_below_the_lowest_grade_fails(world):
    h = HouseholdFactory(village=world.v1a)
    rate(world, h, grade=CreditRating.Grade.NONE, score=50, credit_limit=Decimal("0.00"))
    fails("valid_rating", household=h)


def test_the_amount_may_not_exceed_the_credit_line(world):
    h = HouseholdFactory(village=world.v1a)
    rate(world, h, grade=CreditRating.Grade.AA, score=75, credit_limit=Decimal("30000.00"))
    passes("credit_line", household=h, amount=Decimal("30000.00"))
    r = fails("credit_line", household=h, amount=Decimal("30000.01"))
    assert "30,000.00" in r.message
    assert r.field == "amount"


@pytest.fixture
def aa_home(world):
    """A household rated AA, credit line 30,000, for all of 2024."""
    h = HouseholdFactory(village=world.v1a, head__age=40)
    rate(world, h, grade=CreditRating.Grade.AA, score=75, credit_limit=Decimal("30000.00"))
    return h


def test_the_credit_line_counts_open_loans(world, aa_home):
    loan(world, aa_home, head(aa_home), "20000.00")
    # 20,000 + 15,000 = 35,000 > 30,000. Compared alone, 15,000 ≤ 30,000 used to pass.
    r = fails("credit_line", household=aa_home, amount=Decimal("15000.00"))
    assert r.source == "P1 art.2; P1 art.10; P2 §5(1)" and r.field == "amount"
    # The line, what is already used, this amount and what is left: 30,000 − 20,000 = 10,000.
    for figure in ("30,000.00", "20,000.00", "15,000.00", "10,000.00"):
        assert figure in r.message, figure
    # 20,000 + 10,000 = 30,000: exactly the line.
    passes("credit_line", household=aa_home, amount=Decimal("10000.00"))
    fails("credit_line", household=aa_home, amount=Decimal("10000.01"))
    # Under the household cap of 50,000 the same loan is fine: the line is the tighter rule here.
    passes("amount_cap_household", household=aa_home, amount=Decimal("15000.00"))


def test_the_credit_line_counts_in_flight_applications_at_the_approved_amount(world, aa_home):
    application(world, aa_home, head(aa_home), "20000.00", state="publicity")
    # 20,000 + 20,000 = 40,000 > 30,000.
    fails("credit_line", household=aa_home, amount=Decimal("20000.00"))
    passes("credit_line", household=aa_home, amount=Decimal("10000.00"))
    approved = application(world, aa_home, head(aa_home), "10000.00", state="approved")
    LoanApplication.objects.filter(pk=approved.pk).update(approved_amount=Decimal("5000.00"))
    # 20,000 + 5,000 (approved, not the 10,000 asked) + 5,000 = 30,000.
    passes("credit_line", household=aa_home, amount=Decimal("5000.00"))
    fails("credit_line", household=aa_home, amount=Decimal("5000.01"))
    # Closed loans and finished applications draw on nothing.
    loan(world, aa_home, head(aa_home), "0.00", state=Loan.State.SETTLED)
    application(world, aa_home, head(aa_home), "20000.00", state="rejected")
    passes("credit_line", household=aa_home, amount=Decimal("5000.00"))


def test_a_renewal_does_not_count_the_loan_it_renews_against_the_line(world, aa_home):
    old = loan(world, aa_home, head(aa_home), "30000.00")
    renewal = application(world, aa_home, head(aa_home), "30000.00", state="bank_approval")
    LoanApplication.objects.filter(pk=renewal.pk).update(kind=LoanApplication.Kind.RENEWAL, related_loan=old)
    renewal.refresh_from_db()
    # 30,000 renewed replaces the 30,000 outstanding: 0 + 30,000 = 30,000.
    report = evaluate_application(renewal, on_date=ON, stage="approval")
    assert result(report, "credit_line").passed, result(report, "credit_line").message
    # A new loan of any size on top of the open one would exceed the line.
    fails("credit_line", household=aa_home, amount=Decimal("0.01"))


# ---------------------------------------------------------------------------------------------
# age_range, age_plus_term, capacity


def test_age_boundaries_on_the_birthday(world, home):
    turns_18_today = person(home, datetime.date(2006, 6, 3))
    turns_18_tomorrow = person(home, datetime.date(2006, 6, 4))
    turns_66_today = person(home, datetime.date(1958, 6, 3))
    turns_66_tomorrow = person(home, datetime.date(1958, 6, 4))
    passes("age_range", household=home, borrower=turns_18_today)
    r = fails("age_range", household=home, borrower=turns_18_tomorrow)
    assert "17" in r.message and r.field == "borrower"
    passes("age_range", household=home, borrower=turns_66_tomorrow)
    r = fails("age_range", household=home, borrower=turns_66_today)
    assert "66" in r.message
    assert r.source == "P3 §3.2; P5 §3(1)1"


def miaoshan(world, limit=60):
    """A profile that limits age plus term (P3 §3.2), in force for all of 2024."""
    return PolicyProfileFactory(
        county=world.county, name="庙山镇", effective_from=datetime.date(2024, 1, 1), age_plus_term_max=limit
    )


def test_age_plus_term_only_where_the_profile_sets_it(world, home):
    # Born 1966-01-10: 58 years and almost 5 months on 2024-06-03; turns 60 on 2026-01-10.
    aged_58 = person(home, datetime.date(1966, 1, 10))
    # The default profile has no limit.
    passes("age_plus_term", household=home, borrower=aged_58, term_months=36)
    miaoshan(world)
    # 2024-06-03 + 24 months = 2026-06-03, five months after the 60th birthday. Counting completed
    # years (58 + 2 = 60) used to pass this loan.
    r = fails("age_plus_term", household=home, borrower=aged_58, term_months=24)
    assert r.source == "P3 §3.2" and r.field == "term_months"
    assert "2026-06-03" in r.message and "2026-01-10" in r.message and "60" in r.message
    # 2024-06-03 + 19 months = 2026-01-03, a week before the birthday; + 20 months = 2026-02-03.
    assert "19" in r.message  # the longest term that fits
    passes("age_plus_term", household=home, borrower=aged_58, term_months=19)
    fails("age_plus_term", household=home, borrower=aged_58, term_months=20)


def test_age_plus_term_maturity_on_the_birthday_passes_the_day_after_fails(world, home):
    miaoshan(world)
    # 2024-06-03 + 24 months = 2026-06-03.
    sixty_on_maturity = person(home, datetime.date(1966, 6, 3))  # turns 60 on 2026-06-03
    sixty_the_day_before = person(home, datetime.date(1966, 6, 2))  # turns 60 on 2026-06-02
    r = passes("age_plus_term", household=home, borrower=sixty_on_maturity, term_months=24)
    assert "2026-06-03" in r.message
    r = fails("age_plus_term", household=home, borrower=sixty_the_day_before, term_months=24)
    assert "2026-06-03" in r.message and "2026-06-02" in r.message
    # One month less fits: 2024-06-03 + 23 months = 2026-05-03.
    passes("age_plus_term", household=home, borrower=sixty_the_day_before, term_months=23)


def test_age_plus_term_counts_from_the_step_when_it_is_later_than_the_application(world, home):
    """The contract's maturity must come before the birthday: applied for on 2024-06-03 for 24
    months, the loan fits (maturity 2026-06-03, the 60th birthday); disbursed a week later it
    would mature on 2026-06-10, after it, and is refused then."""
    miaoshan(world)
    sixty_on_maturity = person(home, datetime.date(1966, 6, 3))
    passes("age_plus_term", household=home, borrower=sixty_on_maturity, term_months=24, applied_on=ON)
    r = fails(
        "age_plus_term",
        household=home,
        borrower=sixty_on_maturity,
        term_months=24,
        applied_on=ON,
        on_date=ON + datetime.timedelta(days=7),
    )
    assert "2026-06-10" in r.message and "2026-06-03" in r.message


def test_age_plus_term_for_someone_born_on_29_february(world, home):
    # A limit of 62 so the birthday falls in a common year: born 1964-02-29, turns 62 in 2026,
    # which has no 29 February. The rule takes 28 February, the conservative day.
    miaoshan(world, limit=62)
    leapling = person(home, datetime.date(1964, 2, 29))
    # 2024-02-28 + 24 months = 2026-02-28: on the birthday.
    r = passes(
        "age_plus_term", household=home, borrower=leapling, term_months=24, on_date=datetime.date(2024, 2, 28)
    )
    assert "2026-02-28" in r.message
    # 2024-02-29 + 24 months = 2026-02-28 (the month has no 29th): still on the birthday.
    passes(
        "age_plus_term", household=home, borrower=leapling, term_months=24, on_date=datetime.date(2024, 2, 29)
    )
    # 2024-03-01 + 24 months = 2026-03-01: a day late.
    r = fails(
        "age_plus_term", household=home, borrower=leapling, term_months=24, on_date=datetime.date(2024, 3, 1)
    )
    assert "2026-03-01" in r.message and "2026-02-28" in r.message


def test_age_plus_term_leaves_no_room_past_the_limit(world, home):
    miaoshan(world)
    # Born 1964-01-01: turned 60 on 2024-01-01, before the application date 2024-06-03.
    aged_60 = person(home, datetime.date(1964, 1, 1))
    r = fails("age_plus_term", household=home, borrower=aged_60, term_months=1)
    assert "2024-07-03" in r.message and "2024-01-01" in r.message


def test_age_is_taken_on_the_application_date_not_the_day_of_the_step(world, home):
    # Born 1958-06-04: 65 on the application date 2024-06-03, 66 from 2024-06-04 on.
    borrower = person(home, datetime.date(1958, 6, 4))
    later = datetime.date(2024, 7, 1)
    r = fails("age_range", household=home, borrower=borrower, on_date=later)
    assert "66" in r.message
    r = passes("age_range", household=home, borrower=borrower, on_date=later, applied_on=ON)
    assert "65" in r.message and "2024-06-03" in r.message
    # Age plus term counts from the application date while the step is on it: 2024-06-03 + 24
    # months = 2026-06-03, before the 68th birthday on 2026-06-04.
    miaoshan(world, limit=68)
    passes("age_plus_term", household=home, borrower=borrower, on_date=ON, applied_on=ON)
    # A step four weeks later would make a contract maturing on 2026-07-01, after that birthday:
    # the contract's maturity is what must come first.
    fails("age_plus_term", household=home, borrower=borrower, on_date=later, applied_on=ON)


def test_a_stored_application_is_judged_on_its_submission_date(world, home):
    borrower = person(home, datetime.date(1958, 6, 4))  # 65 on 2024-06-03, 66 on 2024-06-04
    app = application(world, home, borrower, "10000.00", state="bank_approval", submitted_on=ON)
    later = datetime.date(2024, 7, 1)
    report = evaluate_application(app, on_date=later, stage="approval")
    assert result(report, "age_range").passed
    # A draft (never submitted, or sent back to draft and to be submitted again) is dated on
    # the day of the check.
    draft = application(world, home, borrower, "10000.00", state="draft", submitted_on=ON)
    report = evaluate_application(draft, on_date=later, stage="submission")
    assert not result(report, "age_range").passed


def test_capacity_must_be_attested_and_the_borrower_able_to_work(world, home):
    passes("capacity", household=home)
    r = fails("capacity", household=home, capacity_attested=False)
    assert r.field == "capacity_attested"
    partial = person(home, datetime.date(1980, 1, 1), labour_capacity=Member.Labour.PARTIAL)
    passes("capacity", household=home, borrower=partial)
    unable = person(home, datetime.date(1981, 1, 1), labour_capacity=Member.Labour.NONE)
    fails("capacity", household=home, borrower=unable)


# ---------------------------------------------------------------------------------------------
# amount_range, amount_cap_household, term_range


@pytest.mark.parametrize("amount", ["0", "0.00", "-1", "50000.01"])
def test_amount_out_of_range_fails(home, amount):
    r = fails("amount_range", household=home, amount=Decimal(amount))
    assert r.source == "P1 art.2" and r.field == "amount"


@pytest.mark.parametrize("amount", ["0.01", "50000.00"])
def test_amount_in_range_passes(home, amount):
    passes("amount_range", household=home, amount=Decimal(amount))


def test_household_cap_counts_open_loans_and_shows_the_headroom(world, home):
    loan(world, home, head(home), "30000.00")
    passes("amount_cap_household", household=home, amount=Decimal("20000.00"))
    r = fails("amount_cap_household", household=home, amount=Decimal("20000.01"))
    assert "30,000.00" in r.message  # the current total
    assert "20,000.00" in r.message  # what may still be lent
    assert r.source == "P1 art.25"
    # The same member's open loan does not break one borrower per household (an additional loan).
    passes("one_borrower_per_household", household=home, amount=Decimal("20000.00"))


def test_household_cap_ignores_closed_loans_and_counts_in_flight_applications(world, home):
    loan(world, home, head(home), "40000.00", state=Loan.State.SETTLED)
    passes("amount_cap_household", household=home, amount=Decimal("50000.00"))
    application(world, home, head(home), "30000.00", state="bank_approval")
    fails("amount_cap_household", household=home, amount=Decimal("20000.01"))
    application(world, home, head(home), "10000.00", state="draft")
    application(world, home, head(home), "10000.00", state="rejected")
    passes("amount_cap_household", household=home, amount=Decimal("20000.00"))


def test_an_approved_application_counts_at_its_approved_amount(world, home):
    app = application(world, home, head(home), "40000.00", state="approved")
    LoanApplication.objects.filter(pk=app.pk).update(approved_amount=Decimal("20000.00"))
    passes("amount_cap_household", household=home, amount=Decimal("30000.00"))
    fails("amount_cap_household", household=home, amount=Decimal("30000.01"))


@pytest.mark.parametrize("term", [0, 37])
def test_term_out_of_range_fails(home, term):
    r = fails("term_range", household=home, term_months=term)
    assert r.field == "term_months"


@pytest.mark.parametrize("term", [1, 36])
def test_term_in_range_passes(home, term):
    passes("term_range", household=home, term_months=term)


def test_term_follows_the_county_minimum(world, home):
    PolicyProfileFactory(county=world.county, effective_from=datetime.date(2024, 1, 1), term_min_months=12)
    fails("term_range", household=home, term_months=11)
    passes("term_range", household=home, term_months=12)


# ---------------------------------------------------------------------------------------------
# productive_purpose, forbidden_purpose


@pytest.mark.parametrize("purpose", ["planting", "breeding", "rural_tourism", "services", "trading"])
def test_productive_purposes_pass(home, purpose):
    passes("productive_purpose", household=home, purpose_category=purpose)
    passes("forbidden_purpose", household=home, purpose_category=purpose)


def test_house_building_is_forbidden_and_says_why(home):
    report = run(home, purpose_category="house_building")
    forbidden = result(report, "forbidden_purpose")
    assert not forbidden.passed
    assert forbidden.source == "P2 §4(5)"
    assert "建房" in forbidden.message  # the default language is Simplified Chinese
    assert forbidden.field == "purpose_category"
    assert not result(report, "productive_purpose").passed


def test_an_unknown_purpose_fails(home):
    r = fails("productive_purpose", household=home, purpose_category="lottery")
    assert "lottery" in r.message


# ---------------------------------------------------------------------------------------------
# credit_record, one_borrower_per_household, bank_account, use_mode


def test_a_blacklisted_household_fails_until_removed(world, home):
    entry = BlacklistEntry.objects.create(household=home, reason="恶意逃债", added_by=world.county_office)
    r = fails("credit_record", household=home)
    assert r.source == "P1 art.22; P3 §3.7"
    BlacklistEntry.objects.filter(pk=entry.pk).update(
        removed_at=timezone.now(), removed_by=world.county_office, removal_reason="已还清"
    )
    passes("credit_record", household=home)


def test_another_member_with_an_in_flight_application_fails(world, home):
    spouse = person(home, datetime.date(1985, 5, 5))
    draft = application(world, home, spouse, "10000.00", state="draft")
    passes("one_borrower_per_household", household=home)
    LoanApplication.objects.filter(pk=draft.pk).update(state="publicity")
    r = fails("one_borrower_per_household", household=home)
    assert r.source == "P3 §3.8" and r.field == "borrower"
    # The spouse's own further application is not blocked by the spouse's application.
    passes("one_borrower_per_household", household=home, borrower=spouse)


def test_another_member_with_an_open_loan_fails_a_settled_one_does_not(world, home):
    spouse = person(home, datetime.date(1985, 5, 5))
    old = loan(world, home, spouse, "5000.00")
    fails("one_borrower_per_household", household=home)
    Loan.objects.filter(pk=old.pk).update(state=Loan.State.SETTLED, outstanding=Decimal("0.00"))
    passes("one_borrower_per_household", household=home)


@pytest.mark.parametrize("account", ["", "   ", None])
def test_no_bank_account_fails(home, account):
    r = fails("bank_account", household=home, bank_account_no=account)
    assert r.source == "P3 §3.6" and r.field == "bank_account_no"


def test_entrusted_use_is_forbidden_after_the_cutoff(home, world):
    r = fails("use_mode", household=home, use_mode="entrusted")
    assert r.source == "P1 art.28; P2 §4(4)"
    assert "2017-12-07" in r.message
    rate(world, home, valid_from=datetime.date(2017, 1, 1), valid_to=datetime.date(2017, 12, 31))
    passes("use_mode", household=home, use_mode="entrusted", on_date=datetime.date(2017, 12, 7))
    fails("use_mode", household=home, use_mode="entrusted", on_date=datetime.date(2017, 12, 8))


def test_indirect_mode_needs_the_profile_switch_and_an_attested_entity(world, home):
    r = fails("use_mode", household=home, use_mode="indirect", entity_attested=True)
    assert r.source == "P2 §4(4)2; P2 §4(6)"
    PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2024, 1, 1), allow_indirect_mode=True
    )
    r = fails("use_mode", household=home, use_mode="indirect", entity_attested=False)
    assert r.field == "entity_attested"
    passes("use_mode", household=home, use_mode="indirect", entity_attested=True)


# ---------------------------------------------------------------------------------------------
# require_eligible, the profile in force, the application helpers, queries


def test_require_eligible_lists_every_failure_at_once(world, home):
    minor = person(home, datetime.date(2006, 6, 4))
    with pytest.raises(ApplicationError) as caught:
        require_eligible(
            household=home,
            borrower=minor,
            amount=Decimal("0"),
            term_months=37,
            purpose_category="house_building",
            on_date=ON,
            bank_account_no="",
        )
    err = caught.value
    assert err.code == "rule_failed"
    assert [r["rule"] for r in err.extra["rules"]] == [
        "age_range",
        "amount_range",
        "term_range",
        "productive_purpose",
        "forbidden_purpose",
        "bank_account",
    ]
    for r in err.extra["rules"]:
        assert set(r) == {"rule", "message", "source"} and r["message"] and r["source"]
    assert err.field == "borrower"
    assert "6" in str(err.message)


def test_require_eligible_returns_the_report_when_all_pass(home):
    report = require_eligible(
        household=home,
        borrower=head(home),
        amount=Decimal("10000"),
        term_months=12,
        purpose_category="planting",
        on_date=ON,
    )
    assert report.eligible


def test_the_profile_in_force_on_the_day_is_used(world, home):
    PolicyProfileFactory(
        county=world.county, name="新规", effective_from=datetime.date(2024, 6, 1), age_max=60
    )
    aged_62 = person(home, datetime.date(1962, 1, 15))
    passes("age_range", household=home, borrower=aged_62, on_date=datetime.date(2024, 5, 31))
    r = fails("age_range", household=home, borrower=aged_62, on_date=datetime.date(2024, 6, 1))
    assert "60" in r.message


def test_no_profile_in_force_is_an_application_error(home):
    with pytest.raises(PolicyProfileMissing) as caught:
        run(home, on_date=datetime.date(2014, 12, 31))
    assert caught.value.code == "policy_missing"


def test_the_application_is_not_counted_against_itself(world, home):
    app = application(world, home, head(home), "30000.00", state="village_review")
    assert evaluate_application(app, on_date=ON, stage="village_approval").eligible
    # Another request of the same size would be counted with this one and break the cap.
    fails("amount_cap_household", household=home, amount=Decimal("30000.00"))
    # Nor is the loan it became, when the disbursement is checked again.
    loan(world, home, head(home), "30000.00", application=app)
    assert evaluate_application(app, on_date=ON, stage="disbursement").eligible


def test_the_approval_step_judges_the_approved_amount_and_term(world, home):
    app = application(world, home, head(home), "30000.00", state="bank_approval")
    require_application_eligible(
        app, on_date=ON, stage="approval", amount=Decimal("20000.00"), term_months=12
    )
    with pytest.raises(ApplicationError) as caught:
        require_application_eligible(app, on_date=ON, stage="approval", term_months=37)
    assert caught.value.code == "rule_failed"
    assert [r["rule"] for r in caught.value.extra["rules"]] == ["term_range"]
    assert caught.value.field == "term_months"


def test_the_application_fields_are_read(world, home):
    app = application(world, home, head(home), "30000.00", state="draft", use_mode="entrusted")
    LoanApplication.objects.filter(pk=app.pk).update(bank_account_no="", capacity_attested=False)
    app.refresh_from_db()
    failed = {r.rule for r in evaluate_application(app, on_date=ON, stage="submission").failures}
    assert failed == {"use_mode", "bank_account", "capacity"}


def test_query_count_does_not_grow_with_the_households_history(world, home):
    def count(household_pk):
        household = Household.objects.get(pk=household_pk)
        borrower = head(household)
        with CaptureQueriesContext(connection) as ctx:
            run(household, borrower=borrower)
        return len(ctx.captured_queries)

    quiet = HouseholdFactory(village=world.v1a)
    rate(world, quiet)
    for _ in range(5):
        loan(world, home, head(home), "1000.00")
        loan(world, home, head(home), "1000.00", state=Loan.State.SETTLED)
        application(world, home, head(home), "1000.00", state="publicity")
    assert count(home.pk) == count(quiet.pk) <= 8


# ---------------------------------------------------------------------------------------------
# The API: POST /api/v1/eligibility/

API_URLS = pytest.mark.urls("tests.loans.test_eligibility")


def body(household, borrower, **overrides):
    data = {
        "household": household.pk,
        "borrower": borrower.pk,
        "amount": "30000.00",
        "term_months": 24,
        "purpose_category": "breeding",
        "on_date": ON.isoformat(),
    }
    data.update(overrides)
    return data


@API_URLS
def test_api_answers_every_rule(world, api_as, home):
    response = api_as(world.cadre).post("/api/v1/eligibility/", body(home, head(home)), format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["eligible"] is True
    assert [r["rule"] for r in data["results"]] == list(RULE_CODES)
    assert set(data["results"][0]) == {"rule", "passed", "message", "source"}


@API_URLS
def test_api_answers_200_when_not_eligible(world, api_as, home):
    response = api_as(world.officer).post(
        "/api/v1/eligibility/",
        body(home, head(home), amount="60000.00", purpose_category="house_building", bank_account_no=""),
        format="json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data["eligible"] is False
    failed = {r["rule"] for r in data["results"] if not r["passed"]}
    assert failed == {
        "amount_range",
        "credit_line",
        "amount_cap_household",
        "productive_purpose",
        "forbidden_purpose",
        "bank_account",
    }


@API_URLS
def test_api_reports_the_cumulative_credit_line_as_the_rules_do(world, api_as):
    h = HouseholdFactory(village=world.v1a, head__age=40)
    rate(world, h, grade=CreditRating.Grade.AA, score=75, credit_limit=Decimal("30000.00"))
    loan(world, h, head(h), "20000.00")
    response = api_as(world.cadre).post(
        "/api/v1/eligibility/", body(h, head(h), amount="15000.00"), format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert data["eligible"] is False
    assert [r["rule"] for r in data["results"] if not r["passed"]] == ["credit_line"]
    expected = result(run(h, amount=Decimal("15000.00")), "credit_line")
    assert next(r for r in data["results"] if r["rule"] == "credit_line")["message"] == expected.message


@API_URLS
def test_api_judges_age_plus_term_by_the_maturity_date(world, api_as, home):
    miaoshan(world)
    aged_58 = person(home, datetime.date(1966, 1, 10))  # turns 60 on 2026-01-10
    # 2024-06-03 + 24 months = 2026-06-03: after the 60th birthday.
    response = api_as(world.cadre).post("/api/v1/eligibility/", body(home, aged_58), format="json")
    data = response.json()
    assert [r["rule"] for r in data["results"] if not r["passed"]] == ["age_plus_term"]
    assert "2026-06-03" in next(r for r in data["results"] if r["rule"] == "age_plus_term")["message"]


@API_URLS
def test_api_judges_today_when_no_date_is_given(world, api_as):
    h = HouseholdFactory(village=world.v1a)
    today = timezone.localdate()
    rate(world, h, valid_from=today, valid_to=today + datetime.timedelta(days=30))
    data = body(h, head(h))
    del data["on_date"]
    response = api_as(world.cadre).post("/api/v1/eligibility/", data, format="json")
    assert response.json()["eligible"] is True


@API_URLS
def test_api_household_out_of_scope_is_404(world, api_as):
    elsewhere = HouseholdFactory(village=world.vz)
    response = api_as(world.cadre).post(
        "/api/v1/eligibility/", body(elsewhere, head(elsewhere)), format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@API_URLS
def test_api_borrower_from_another_household_is_400(world, api_as, home):
    other = HouseholdFactory(village=world.v1a)
    response = api_as(world.cadre).post("/api/v1/eligibility/", body(home, head(other)), format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert "borrower" in data["extra"]["fields"]


@API_URLS
@pytest.mark.parametrize(
    "bad", [{"amount": "abc"}, {"amount": "1.001"}, {"term_months": "x"}, {"on_date": "2024-13-01"}]
)
def test_api_malformed_input_is_400(world, api_as, home, bad):
    response = api_as(world.cadre).post("/api/v1/eligibility/", body(home, head(home), **bad), format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert set(bad) <= set(data["extra"]["fields"])


@API_URLS
def test_api_anonymous_is_401(api, world, home):
    response = api.post("/api/v1/eligibility/", body(home, head(home)), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
