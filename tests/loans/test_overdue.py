"""Days past due, overdue state and the classification floor (DOMAIN §5), refreshed daily."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.choices import Classification
from loans.models import ClassificationChange, Loan, Settlement
from loans.services import servicing
from loans.tasks import refresh_overdue
from policies.models import PolicyProfile
from tests.factories import HouseholdFactory, SettlementFactory
from tests.loans.test_settlements import make_loan

D = datetime.date
C = Classification


@pytest.mark.parametrize(
    "days, floor",
    [
        (0, C.NORMAL),
        (1, C.SPECIAL_MENTION),
        (90, C.SPECIAL_MENTION),
        (91, C.SUBSTANDARD),
        (270, C.SUBSTANDARD),
        (271, C.DOUBTFUL),
        (360, C.DOUBTFUL),
        (361, C.LOSS),
    ],
)
def test_floor(days, floor):
    assert servicing.classification_floor(PolicyProfile(), days) == floor


def test_floor_follows_the_profile():
    profile = PolicyProfile(substandard_after_days=60, doubtful_after_days=180, loss_after_days=300)
    assert servicing.classification_floor(profile, 61) == C.SUBSTANDARD
    assert servicing.classification_floor(profile, 301) == C.LOSS


def refresh(on_date):
    return servicing.overdue_refresh(on_date=on_date)


def get(loan):
    return Loan.objects.get(pk=loan.pk)


def test_principal_past_a_leap_day_maturity(world, household):
    loan = make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    refresh(D(2024, 2, 29))
    assert (get(loan).days_past_due, get(loan).state) == (0, "active")
    refresh(D(2024, 3, 1))
    loan = get(loan)
    assert (loan.days_past_due, loan.state, loan.classification) == (1, "overdue", C.SPECIAL_MENTION)
    change = ClassificationChange.objects.get(loan=loan)
    assert (change.from_class, change.to_class, change.floor, change.days_past_due, change.by) == (
        C.NORMAL, C.SPECIAL_MENTION, C.SPECIAL_MENTION, 1, None,
    )  # fmt: skip
    assert change.reason == "按逾期天数自动调整"


def test_unpaid_settlement_around_a_month_end(world, household):
    loan = make_loan(household, world)
    SettlementFactory(
        loan=loan, period_start=D(2024, 1, 10), period_end=D(2024, 1, 31), interest_due=Decimal("76.13"),
        paid_on=None, recorded_by=world.officer,
    )  # fmt: skip
    refresh(D(2024, 1, 31))
    assert get(loan).days_past_due == 0
    refresh(D(2024, 3, 1))  # 29 days of February 2024 + 1
    assert get(loan).days_past_due == 30
    # The earliest unpaid date counts, and a paid period does not.
    SettlementFactory(
        loan=loan, period_start=D(2024, 1, 31), period_end=D(2024, 2, 10), interest_due=Decimal("1"),
        paid_on=None, recorded_by=world.officer,
    )  # fmt: skip
    refresh(D(2024, 3, 1))
    assert get(loan).days_past_due == 30
    Settlement.objects.filter(loan=loan, period_end=D(2024, 1, 31)).update(paid_on=D(2024, 2, 5))
    refresh(D(2024, 3, 1))
    assert get(loan).days_past_due == 20  # from 10 February
    Settlement.objects.filter(loan=loan).update(paid_on=D(2024, 2, 20))
    refresh(D(2024, 3, 1))
    loan = get(loan)
    # Cured: back to active, but the classification is never lowered by the task.
    assert (loan.days_past_due, loan.state, loan.classification) == (0, "active", C.SPECIAL_MENTION)


@pytest.mark.parametrize(
    "on_date, expected",
    [
        (D(2024, 5, 30), C.SUBSTANDARD),  # 91 days after 29 February 2024
        (D(2024, 11, 25), C.SUBSTANDARD),  # 270
        (D(2024, 11, 26), C.DOUBTFUL),  # 271
        (D(2025, 2, 23), C.DOUBTFUL),  # 360
        (D(2025, 2, 24), C.LOSS),  # 361
    ],
)
def test_floor_by_days(world, household, on_date, expected):
    loan = make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    refresh(on_date)
    assert get(loan).classification == expected


def test_never_lowered_and_idempotent(world, household):
    worse = make_loan(
        household, world, classification=C.DOUBTFUL, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29)
    )
    fine = make_loan(household, world)
    first = refresh(D(2024, 3, 10))
    assert get(worse).classification == C.DOUBTFUL
    assert get(worse).days_past_due == 10
    assert not ClassificationChange.objects.filter(loan=worse).exists()
    assert get(fine).days_past_due == 0
    assert first["changed"] == 1
    # What the daily jobs page shows (issue 14): one loan became overdue, into the 1-30 days bucket.
    assert (first["overdue"], first["cured"], first["entered"]) == (1, 0, {"1-30": 1})
    with CaptureQueriesContext(connection) as queries:
        second = refresh(D(2024, 3, 10))
    assert second == {"loans": 2, "changed": 0, "reclassified": 0, "overdue": 0, "cured": 0, "entered": {}}
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)


def test_extended_and_closed_loans(world, household):
    extended = make_loan(household, world, state="extended")
    settled = make_loan(
        household, world, state="settled", outstanding=Decimal("0"), maturity_on=D(2024, 3, 1)
    )
    repaid = make_loan(household, world, outstanding=Decimal("0"), maturity_on=D(2024, 3, 1))
    refresh(D(2024, 6, 1))
    assert (get(extended).state, get(extended).classification) == ("extended", C.SPECIAL_MENTION)
    assert get(settled).days_past_due == 0
    assert get(repaid).days_past_due == 0  # nothing outstanding past maturity


def test_query_count_does_not_grow(world, household):
    for _ in range(3):
        make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    with CaptureQueriesContext(connection) as few:
        refresh(D(2024, 4, 1))
    for _ in range(10):
        make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    with CaptureQueriesContext(connection) as many:
        refresh(D(2024, 9, 1))
    assert len(many) == len(few)


def test_task(world, household):
    loan = make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    assert refresh_overdue.apply(kwargs={"on_date": "2024-03-02"}).get()["changed"] == 1
    assert get(loan).days_past_due == 2
    assert refresh_overdue.apply().get()["loans"] == 1


def test_overdue_list_page_and_api(world, household, client_as, api_as):
    for maturity in (D(2024, 2, 29), D(2024, 2, 29), D(2023, 6, 1)):
        make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=maturity)
    other = HouseholdFactory(village=world.v2a)
    elsewhere = make_loan(
        other, world, branch=world.br2, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29)
    )
    refresh(D(2024, 3, 20))  # 20 days and 293 days
    client = client_as(world.officer)
    page = client.get(reverse("loans:overdue_list"))
    assert page.status_code == 200
    counts = {b.key: n for b, n in page.context["buckets"]}
    assert counts == {"1-30": 2, "31-90": 0, "91-180": 0, "181-270": 0, "271-360": 1, "gt360": 0}
    assert elsewhere.contract_no not in page.content.decode()
    one = client.get(reverse("loans:overdue_list"), {"bucket": "271-360"})
    assert [loan.days_past_due for loan in one.context["loans"]] == [293]
    for _ in range(5):
        make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    refresh(D(2024, 3, 20))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("loans:overdue_list"))
    for _ in range(5):
        make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    refresh(D(2024, 3, 20))
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("loans:overdue_list"))
    assert len(many) == len(few)

    answer = api_as(world.officer).get("/api/v1/loans/overdue/", {"bucket": "1-30"})
    assert answer.status_code == 200
    assert answer.json()["count"] == 12
    assert api_as(world.officer).get("/api/v1/loans/overdue/", {"bucket": "x"}).status_code == 400
