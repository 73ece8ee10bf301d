import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from households.models import Household
from loans.models import Loan, Settlement
from subsidies import services
from subsidies.models import SubsidyBatch, SubsidyLine
from tests.factories import HouseholdFactory, LoanFactory, SettlementFactory, UserFactory

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
        account_no=None,
    ) -> Loan:
        household = household or HouseholdFactory(village=village or world.v1a, head__age=40)
        n = next(_seq)
        if maturity_on is None:
            maturity_on = disbursed_on.replace(year=disbursed_on.year + term_months // 12)
        return LoanFactory(
            household=household,
            branch=world.br1,
            contract_no=f"SUB-{n:06d}",
            receipt_no=f"SUB-R-{n:06d}",
            # The borrower's account the subsidy is paid to; "" for a loan without one.
            account_no=f"62305201{n:011d}" if account_no is None else account_no,
            amount=Decimal(amount),
            rate=Decimal(rate),
            term_months=term_months,
            disbursed_on=disbursed_on,
            maturity_on=maturity_on,
            outstanding=Decimal("0.00") if settled_on else Decimal(amount),
            settled_on=settled_on,
            state=state,
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
        figures = {"principal": Decimal(principal)} if principal else {}
        if rate:
            figures["rate"] = Decimal(rate)
        if paid_on and interest_paid is not None:
            figures["interest_paid"] = Decimal(interest_paid)
        return SettlementFactory(
            loan=loan,
            period_start=start,
            period_end=end,
            interest_due=Decimal(interest_due),
            penalty_paid=Decimal(penalty_paid),
            paid_on=paid_on,
            recorded_by=world.officer,
            **figures,
        )

    return make


@pytest.fixture
def eager_tasks():
    """Celery tasks run in this process, at once, and raise their errors here. The app reads its
    configuration once, so the switch is on the app, not in Django's settings; the previous
    values come back at teardown."""
    from config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def compute_now(world, settings, eager_tasks, django_capture_on_commit_callbacks):
    """Create (if needed) and compute a batch in this process: tasks run eagerly, so the chunks
    (two loans each) go through the same task code a worker runs."""
    settings.SUBSIDY_CHUNK_LOANS = 2

    def run(year=2025, quarter=3, *, batch=None, user=None) -> SubsidyBatch:
        if batch is None:
            batch = services.batch_create(
                acting_user=world.finance, county=world.county, year=year, quarter=quarter
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.batch_compute(acting_user=user or world.finance, batch=batch)
        batch.refresh_from_db()
        return batch

    return run


def today_is(monkeypatch, day: datetime.date):
    monkeypatch.setattr(services, "_today", lambda: day)


@pytest.fixture
def after_q3(monkeypatch):
    today_is(monkeypatch, datetime.date(2025, 10, 10))
    return timezone.now()


Q3_START, Q3_END = datetime.date(2025, 6, 20), datetime.date(2025, 9, 20)
LINE_FIELDS = [
    "loan_id",
    "household_id",
    "village_id",
    "settlement_id",
    "period_start",
    "period_end",
    "paid_on",
    "days",
    "principal",
    "subsidized_principal",
    "contract_rate",
    "cap_rate",
    "rate_used",
    "interest_paid",
    "penalty_paid",
    "subsidy",
    "excluded_reason",
    "claimed",
]


def snapshot(batch) -> list[tuple]:
    """The batch's lines without their ids and batch: what a rerun must reproduce exactly."""
    return list(
        SubsidyLine.objects.filter(batch=batch)
        .order_by("loan_id", "period_start", "settlement_id")
        .values_list(*LINE_FIELDS)
    )


def totals(batch) -> tuple:
    batch.refresh_from_db()
    return batch.total, batch.line_count, batch.subsidized_count, batch.progress_done, batch.progress_total


@pytest.fixture
def quarter(world, make_loan, settle):
    """Eight loans of county A in 2025 Q3, one of each kind of line, and one of county Z. The
    subsidies add up to 555.83 + 277.92 + 333.50 + 222.33 = 1389.58 (worked out in test_compute.py)."""
    full = make_loan()
    settle(full, Q3_START, Q3_END, interest_due="555.83", penalty_paid="12.00", paid_on=Q3_END)  # 555.83
    unpaid = make_loan()
    settle(unpaid, Q3_START, Q3_END, interest_due="555.83")
    ending = make_loan(
        disbursed_on=datetime.date(2022, 8, 5),
        maturity_on=datetime.date(2026, 2, 5),
        state=Loan.State.EXTENDED,
    )
    settle(ending, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)  # 46 days: 277.92
    ended = make_loan(
        disbursed_on=datetime.date(2022, 3, 1),
        maturity_on=datetime.date(2025, 12, 1),
        state=Loan.State.EXTENDED,
    )
    settle(ended, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)  # outside the support period
    household = HouseholdFactory(
        village=world.v2a, head__age=41, poverty_status=Household.PovertyStatus.EXITED
    )
    for amount, interest in (("30000.00", "333.50"), ("30000.00", "333.50"), ("10000.00", "111.17")):
        loan = make_loan(household=household, amount=amount)  # 333.50, 222.33, over the cap
        settle(loan, Q3_START, Q3_END, interest_due=interest, paid_on=Q3_END)
    make_loan(disbursed_on=datetime.date(2025, 9, 25))  # no settlement yet
    other = make_loan(household=HouseholdFactory(village=world.vz, head__age=40))
    settle(other, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    return {"full": full, "unpaid": unpaid}


QUARTER_TOTAL = Decimal("1389.58")  # 555.83 + 277.92 + 333.50 + 222.33
