"""Loans and claims for the claim tests (tests/riskfund/test_claim*.py)."""

import datetime
from decimal import Decimal

import factory

from accounts.models import Role
from loans.models import BorrowerEvent, InsurancePayout, InsurancePolicy
from riskfund.services import claims
from tests.factories import HouseholdFactory, LoanFactory, SettlementFactory, UserFactory


def make_loan(world, **over):
    """An open loan of branch BR1 to a household of V1a: 50,000 outstanding, matured 2025-01-01
    (long past every waiting period on the pinned day, 2026-06-17)."""
    values = dict(
        household=HouseholdFactory(village=world.v1a),
        branch=world.br1,
        contract_no=factory.Sequence(lambda n: f"CL-{n:05d}"),
        receipt_no=factory.Sequence(lambda n: f"CLR-{n:05d}"),
        amount=Decimal("50000.00"),
        outstanding=Decimal("50000.00"),
        disbursed_on=datetime.date(2022, 1, 1),
        maturity_on=datetime.date(2025, 1, 1),
        purpose_category="breeding",
        imported=False,
    )
    return LoanFactory(**{**values, **over})


def unpaid_settlement(
    world, loan, interest, *, start=datetime.date(2024, 9, 21), end=datetime.date(2024, 12, 21)
):
    return SettlementFactory(
        loan=loan,
        period_start=start,
        period_end=end,
        principal=loan.outstanding,
        interest_due=Decimal(interest),
        paid_on=None,
        interest_paid=Decimal("0.00"),
        recorded_by=world.officer,
    )


def death(world, loan, on=datetime.date(2026, 1, 10)):
    return BorrowerEvent.objects.create(
        member=loan.borrower, kind=BorrowerEvent.Kind.DEATH, occurred_on=on, recorded_by=world.officer
    )


def policy(world, loan, *, starts_on=datetime.date(2022, 1, 1), ends_on=datetime.date(2027, 1, 1), no="P-1"):
    return InsurancePolicy.objects.create(
        loan=loan,
        kind=InsurancePolicy.Kind.GUARANTEE,
        insurer="人保财险",
        policy_no=no,
        premium=Decimal("120.00"),
        starts_on=starts_on,
        ends_on=ends_on,
        recorded_by=world.officer,
    )


def payout(world, pol, amount, on=datetime.date(2026, 3, 1)):
    return InsurancePayout.objects.create(
        policy=pol, amount=Decimal(amount), paid_on=on, reason="理赔", recorded_by=world.officer
    )


def file(world, loan, trigger="default"):
    return claims.claim_file(acting_user=world.officer, loan=loan, trigger=trigger, statement="多次催收未果")


def approved(world, loan):
    claim = file(world, loan)
    claims.claim_review(acting_user=world.county_office, claim=claim, comment="材料齐全")
    return claims.claim_approve(
        acting_user=world.committee,
        claim=claim,
        committee_members="张三、李四、王五",
        decision_no="风补〔2026〕3号",
    )


def second_user(world, *roles, unit=None):
    return UserFactory(unit=unit or world.county, roles=list(roles))


ROLES = Role
