"""Two disbursements at the leverage cap's edge at the same moment, in real threads with their own
PostgreSQL connections: each fits alone, both together would pass the cap. The fund's row lock in
the leverage check makes them take turns, so the second sees the first's loan and is refused.

Like tests/loans/test_concurrency.py these run outside the per-test transaction
(`transaction=True`), with `serialized_rollback` restoring the migrated rows afterwards."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from core.exceptions import ApplicationError
from households.models import CreditRating
from loans.models import Loan, LoanApplication
from loans.services import applications
from loans.workflow import State
from riskfund.services import leverage
from tests.concurrency import run_together
from tests.factories import CreditRatingFactory, HouseholdFactory, application_create
from tests.loans.conftest import calendar_ahead, drive  # noqa: F401  (the loan tests' fixtures)
from tests.riskfund.test_leverage import lent, shrink_fund

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal


def approved_application(world, drive, village):  # noqa: F811
    h = HouseholdFactory(village=village, head__age=40)
    CreditRatingFactory(
        household=h,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=D("50000.00"),
        valid_from=timezone.localdate() - datetime.timedelta(days=30),
        valid_to=timezone.localdate() + datetime.timedelta(days=300),
    )
    return drive(application_create(acting_user=world.cadre, household=h), State.APPROVED)


@pytest.fixture
def at_the_edge(world, drive):  # noqa: F811
    """Cap 100,000.00; 40,000.01 outstanding; two approved applications of 30,000.00 each: either
    fits (70,000.01), both would make 100,000.01."""
    shrink_fund(world.fund, "10000.00")
    lent(world, "40000.01")
    first = approved_application(world, drive, world.v1a)
    second = approved_application(world, drive, world.v1a)
    return first, second


def assert_one_loan_within_the_cap(world, apps):
    assert Loan.objects.filter(application__in=apps).count() == 1
    states = sorted(
        LoanApplication.objects.filter(pk__in=[a.pk for a in apps]).values_list("state", flat=True)
    )
    assert states == [State.APPROVED, State.DISBURSED]
    room = leverage.headroom(world.fund, on_date=timezone.localdate())
    assert room.outstanding == D("70000.01") <= room.cap == D("100000.00")


def test_two_disbursements_at_the_edge_through_the_service(world, at_the_edge):
    def disburse(app, n):
        def call():
            return applications.application_disburse(
                acting_user=User.objects.get(pk=world.officer.pk),
                application=LoanApplication.objects.get(pk=app.pk),
                contract_no=f"HT-C{n}",
                receipt_no=f"JJ-C{n}",
            )

        return call

    first, second = at_the_edge
    outcomes = run_together(world.fund, disburse(first, 1), disburse(second, 2))

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ApplicationError) and error.code == "rule_failed"
    assert [r["rule"] for r in error.extra["rules"]] == ["leverage_cap"]
    assert (error.extra["outstanding"], error.extra["headroom"]) == ("70000.01", "29999.99")
    assert_one_loan_within_the_cap(world, at_the_edge)


def test_two_disbursements_at_the_edge_through_the_api(world, at_the_edge):
    def disburse(app, n):
        def call():
            client = APIClient()
            client.force_authenticate(User.objects.get(pk=world.officer.pk))
            return client.post(
                f"/api/v1/applications/{app.pk}/transitions/disburse/",
                {"contract_no": f"HT-A{n}", "receipt_no": f"JJ-A{n}"},
                format="json",
            )

        return call

    first, second = at_the_edge
    outcomes = run_together(world.fund, disburse(first, 1), disburse(second, 2))

    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    responses = [r for _, r in outcomes]
    assert sorted(r.status_code for r in responses) == [200, 400], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 400).json()
    assert loser["code"] == "rule_failed"
    assert [r["rule"] for r in loser["extra"]["rules"]] == ["leverage_cap"]
    assert loser["extra"]["outstanding"] == "70000.01"
    assert_one_loan_within_the_cap(world, at_the_edge)
