"""Each trigger the day before it opens (refused, with the date) and the day it opens (filed)
(DOMAIN §8; P1 arts. 20-21), and insurance first."""

import datetime
from decimal import Decimal

import pytest

from core.exceptions import ApplicationError, NotPermitted
from riskfund import selectors
from riskfund.models import CompensationClaim

from .claim_helpers import death, file, make_loan, payout, policy, unpaid_settlement

pytestmark = pytest.mark.django_db


def refused_with_date(world, loan, trigger, date):
    with pytest.raises(ApplicationError) as e:
        file(world, loan, trigger)
    assert e.value.code == "rule_failed"
    assert e.value.extra["rules"][0]["rule"] == "claim_trigger"
    assert e.value.extra["eligible_on"] == date
    assert date in str(e.value.message)
    assert not CompensationClaim.objects.exists()


# entrusted: maturity 2025-12-17 + 6 months = 2026-06-17
@pytest.mark.today("2026-06-16")
def test_entrusted_the_day_before(world):
    loan = make_loan(world, use_mode="entrusted", maturity_on=datetime.date(2025, 12, 17))
    refused_with_date(world, loan, "entrusted", "2026-06-17")
    assert selectors.claimable_on(loan, "entrusted") == datetime.date(2026, 6, 17)


@pytest.mark.today("2026-06-17")
def test_entrusted_the_day_it_opens(world):
    loan = make_loan(world, use_mode="indirect", maturity_on=datetime.date(2025, 12, 17))
    claim = file(world, loan, "entrusted")
    assert claim.state == "filed"
    assert claim.eligible_on == datetime.date(2026, 6, 17)
    assert claim.trigger == "entrusted"


def test_entrusted_loan_is_not_a_plain_default(world):
    loan = make_loan(world, use_mode="entrusted")
    with pytest.raises(ApplicationError) as e:
        file(world, loan, "default")
    assert e.value.extra["rules"][0]["rule"] == "claim_trigger"
    assert selectors.claimable_on(loan, "default") is None


# death: maturity 2026-03-17 + 3 months = 2026-06-17
@pytest.mark.today("2026-06-16")
def test_death_the_day_before(world):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 17))
    death(world, loan)
    refused_with_date(world, loan, "death", "2026-06-17")


@pytest.mark.today("2026-06-17")
def test_death_the_day_it_opens(world):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 17))
    death(world, loan)
    claim = file(world, loan, "death")
    assert (claim.trigger, claim.eligible_on) == ("death", datetime.date(2026, 6, 17))


def test_death_without_a_recorded_death_is_refused(world):
    loan = make_loan(world)
    with pytest.raises(ApplicationError) as e:
        file(world, loan, "death")
    assert e.value.extra["rules"][0]["rule"] == "claim_trigger"
    assert "eligible_on" not in e.value.extra


# default: overdue from maturity 2026-03-19 + 90 days = 2026-06-17
@pytest.mark.today("2026-06-16")
def test_default_the_day_before(world):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 19), state="overdue", days_past_due=89)
    refused_with_date(world, loan, "default", "2026-06-17")


@pytest.mark.today("2026-06-17")
def test_default_the_day_it_opens(world):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 19), state="overdue", days_past_due=90)
    claim = file(world, loan, "default")
    assert claim.eligible_on == datetime.date(2026, 6, 17)


@pytest.mark.today("2026-06-16")
def test_default_counts_from_an_earlier_unpaid_settlement(world):
    # The interest of the period ending 2026-03-18 went unpaid: overdue from then, claimable 2026-06-16.
    loan = make_loan(world, maturity_on=datetime.date(2027, 1, 1), state="overdue")
    unpaid_settlement(
        world, loan, "100.00", start=datetime.date(2025, 12, 18), end=datetime.date(2026, 3, 18)
    )
    assert file(world, loan).eligible_on == datetime.date(2026, 6, 16)


def test_default_wait_comes_from_the_profile(world):
    world.profile.default_wait_days = 30
    world.profile.save()
    loan = make_loan(world, maturity_on=datetime.date(2026, 5, 18))
    assert file(world, loan).eligible_on == datetime.date(2026, 6, 17)


def test_a_closed_loan_cannot_be_claimed(world):
    loan = make_loan(world, state="settled", outstanding=Decimal("0.00"))
    with pytest.raises(ApplicationError) as e:
        file(world, loan)
    assert e.value.extra["rules"][0]["rule"] == "loan_open"


def test_only_the_loans_bank_files(world):
    loan = make_loan(world)
    for user in (world.approver, world.county_office, world.finance):
        with pytest.raises(NotPermitted):
            from riskfund.services import claims

            claims.claim_file(acting_user=user, loan=loan, trigger="default", statement="x")


def test_one_live_claim_per_loan(world):
    loan = make_loan(world)
    file(world, loan)
    with pytest.raises(ApplicationError) as e:
        file(world, loan)
    assert e.value.code == "claim_exists"


# ---- insurance first ----------------------------------------------------------------------------


def test_a_pending_payout_makes_the_claim_wait(world):
    loan = make_loan(world)
    policy(world, loan, no="GX-2022-001")
    with pytest.raises(ApplicationError) as e:
        file(world, loan)
    assert e.value.extra["rules"][0]["rule"] == "insurance_first"
    assert "GX-2022-001" in str(e.value.message)


def test_death_looks_at_the_policy_covering_the_death(world):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 17))
    death(world, loan, on=datetime.date(2026, 1, 10))
    # A policy that ended before the death does not hold the claim up.
    policy(world, loan, starts_on=datetime.date(2022, 1, 1), ends_on=datetime.date(2025, 12, 31))
    assert file(world, loan, "death").insurance_paid == Decimal("0.00")


def test_with_the_payout_the_loss_is_reduced(world):
    world.profile.loss_includes_interest = True
    world.profile.save()
    loan = make_loan(world, outstanding=Decimal("20000.00"))
    unpaid_settlement(world, loan, "217.50")
    payout(world, policy(world, loan), "5000.00")
    claim = file(world, loan)
    # 20,000.00 + 217.50 − 5,000.00 = 15,217.50; × 0.8 = 12,174.00 / 3,043.50
    assert (claim.principal, claim.interest, claim.insurance_paid, claim.loss) == (
        Decimal("20000.00"),
        Decimal("217.50"),
        Decimal("5000.00"),
        Decimal("15217.50"),
    )
    assert (claim.fund_share, claim.bank_share) == (Decimal("12174.00"), Decimal("3043.50"))


def test_insurance_covering_everything_leaves_nothing_to_claim(world):
    world.profile.loss_includes_interest = False
    world.profile.save()
    loan = make_loan(world, outstanding=Decimal("1000.00"))
    payout(world, policy(world, loan), "1000.00")
    with pytest.raises(ApplicationError) as e:
        file(world, loan)
    assert e.value.extra["rules"][0]["rule"] == "claim_loss"


@pytest.mark.today("2026-06-17")
def test_the_profile_in_force_on_the_filing_day_gives_the_rule(world):
    from tests.factories import PolicyProfileFactory

    # From 2026-06-01 the county waits 60 days: a loan matured 2026-04-18 may be claimed today.
    newer = PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2026, 6, 1), default_wait_days=60
    )
    PolicyProfileFactory(county=world.county, effective_from=datetime.date(2026, 7, 1), default_wait_days=10)
    claim = file(world, make_loan(world, maturity_on=datetime.date(2026, 4, 18)))
    assert (claim.profile, claim.eligible_on) == (newer, datetime.date(2026, 6, 17))
