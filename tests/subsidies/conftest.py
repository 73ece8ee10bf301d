import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from loans.models import Loan, Settlement, UseMode
from subsidies import services
from subsidies.models import SubsidyBatch
from tests.factories import HouseholdFactory, UserFactory

_seq = itertools.count(1)


@pytest.fixture
def finance2(world):
    """A second finance officer of county A, for four-eyes cases."""
    return UserFactory(username="finance2", unit=world.county, roles=[Role.FINANCE])


@pytest.fixture
def make_loan(world):
    """A loan straight in the books (as an imported one), with the fields the subsidy reads."""

    def make(
        *,
        household=None,
        amount="50000.00",
        rate="4.3500",
        term_months=36,
        disbursed_on=datetime.date(2025, 3, 20),
        maturity_on=None,
        village=None,
        original_loan=None,
        settled_on=None,
        state=Loan.State.ACTIVE,
    ) -> Loan:
        household = household or HouseholdFactory(village=village or world.v1a, head__age=40)
        n = next(_seq)
        if maturity_on is None:
            maturity_on = disbursed_on.replace(year=disbursed_on.year + term_months // 12)
        return Loan.objects.create(
            household=household,
            borrower=household.members.get(is_head=True),
            branch=world.br1,
            contract_no=f"SUB-{n:06d}",
            receipt_no=f"SUB-R-{n:06d}",
            amount=Decimal(amount),
            rate=Decimal(rate),
            rate_basis="benchmark",
            term_months=term_months,
            disbursed_on=disbursed_on,
            maturity_on=maturity_on,
            use_mode=UseMode.SELF,
            outstanding=Decimal("0.00") if settled_on else Decimal(amount),
            settled_on=settled_on,
            state=state,
            imported=True,
            original_loan=original_loan,
        )

    return make


@pytest.fixture
def settle(world):
    """An interest settlement of a loan: `paid_on=None` for one not paid yet."""

    def make(
        loan: Loan,
        start: datetime.date,
        end: datetime.date,
        *,
        interest_due: str,
        interest_paid: str | None = None,
        penalty_paid: str = "0.00",
        paid_on: datetime.date | None = None,
        principal: str | None = None,
        rate: str | None = None,
    ) -> Settlement:
        return Settlement.objects.create(
            loan=loan,
            period_start=start,
            period_end=end,
            principal=Decimal(principal) if principal else loan.amount,
            rate=Decimal(rate) if rate else loan.rate,
            interest_due=Decimal(interest_due),
            interest_paid=Decimal(interest_paid if interest_paid is not None else interest_due)
            if paid_on
            else Decimal("0.00"),
            penalty_paid=Decimal(penalty_paid),
            paid_on=paid_on,
            source=Settlement.Source.MANUAL,
            recorded_by=world.officer,
        )

    return make


@pytest.fixture
def compute_now(world, settings, django_capture_on_commit_callbacks):
    """Create (if needed) and compute a batch in this process: tasks run eagerly, so the chunks
    go through the same task code a worker runs."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SUBSIDY_CHUNK_LOANS = 2

    def run(year=2025, quarter=3, *, batch=None, user=None) -> SubsidyBatch:
        from config.celery import app

        app.conf.task_always_eager = True
        try:
            if batch is None:
                batch = services.batch_create(
                    acting_user=world.finance, county=world.county, year=year, quarter=quarter
                )
            with django_capture_on_commit_callbacks(execute=True):
                services.batch_compute(acting_user=user or world.finance, batch=batch)
        finally:
            app.conf.task_always_eager = False
        batch.refresh_from_db()
        return batch

    return run


def today_is(monkeypatch, day: datetime.date):
    monkeypatch.setattr(services, "_today", lambda: day)


@pytest.fixture
def after_q3(monkeypatch):
    today_is(monkeypatch, datetime.date(2025, 10, 10))
    return timezone.now()
