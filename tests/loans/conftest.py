"""Shared set-up for the loan tests: an eligible household in village v1a (township t1, served by
branch br1) and `drive(app, state)`, which walks an application through the real services as
the world's users would, so tests start from any state without writing states by hand."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from households.models import CreditRating
from loans.models import LoanApplication, PublicityNotice
from loans.services import applications
from loans.workflow import State
from tests.factories import CreditRatingFactory, HouseholdFactory, UserFactory, application_create

ORDER = [
    State.DRAFT,
    State.VILLAGE_REVIEW,
    State.PUBLICITY,
    State.BANK_ACCEPTANCE,
    State.BANK_APPROVAL,
    State.APPROVED,
    State.DISBURSED,
]


@pytest.fixture(autouse=True)
def calendar_ahead(request, world):
    """Publicity counts working days from today. Tests run on the real date, so make sure this
    year and next are in the calendar (the seeded data stops at 2026): a year with no data is
    entered as an admin would, with weekends as rest days and no holidays."""
    from policies.models import CalendarYear
    from policies.services import calendar_year_define

    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        if not CalendarYear.objects.filter(year=year).exists():
            calendar_year_define(
                acting_user=world.admin,
                year=year,
                holidays=[(datetime.date(year, 1, 1), datetime.date(year, 1, 1), "元旦")],
                workdays=[],
                source="test calendar",
            )


@pytest.fixture
def household(world):
    h = HouseholdFactory(village=world.v1a, head__age=40)
    CreditRatingFactory(
        household=h,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=Decimal("50000.00"),
        valid_from=timezone.localdate() - datetime.timedelta(days=30),
        valid_to=timezone.localdate() + datetime.timedelta(days=300),
    )
    return h


@pytest.fixture
def approver2(world):
    """A second approver at branch br1, for four-eyes cases."""
    from accounts.models import Role

    return UserFactory(username="approver2", unit=world.br1, roles=[Role.APPROVER])


@pytest.fixture
def new_application(world, household):
    def make(**overrides) -> LoanApplication:
        overrides.setdefault("household", household)
        return application_create(acting_user=world.cadre, **overrides)

    return make


_numbers = iter(range(1, 10**6))


@pytest.fixture
def drive(world):
    """drive(app, State.X) takes the real steps from the app's state up to X."""

    def step(app: LoanApplication) -> LoanApplication:
        s = app.state
        if s == State.DRAFT:
            return applications.application_submit(acting_user=world.cadre, application=app)
        if s == State.VILLAGE_REVIEW:
            return applications.application_village_approve(acting_user=world.cadre, application=app)
        if s == State.PUBLICITY:
            # Publicity is over once its last day has passed.
            last = max(n.end_on for n in app.notices.filter(status=PublicityNotice.Status.RUNNING))
            applications.publicity_end_due(on_date=last + datetime.timedelta(days=1))
            return LoanApplication.objects.get(pk=app.pk)
        if s == State.BANK_ACCEPTANCE:
            return applications.application_accept(
                acting_user=world.officer, application=app, findings="实地查看养殖场，情况属实"
            )
        if s == State.BANK_APPROVAL:
            return applications.application_approve(acting_user=world.approver, application=app)
        if s == State.APPROVED:
            n = next(_numbers)
            applications.application_disburse(
                acting_user=world.officer,
                application=app,
                contract_no=f"HT-{n:06d}",
                receipt_no=f"JJ-{n:06d}",
            )
            return LoanApplication.objects.get(pk=app.pk)
        raise AssertionError(f"cannot drive from {s}")

    def drive(app: LoanApplication, target: str) -> LoanApplication:
        while app.state != target:
            assert ORDER.index(app.state) < ORDER.index(target), (app.state, target)
            app = step(app)
        return app

    return drive
