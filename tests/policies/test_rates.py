"""The effective-dated rate table: tenor by term, rate by date, and admins adding publications."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from policies import services
from policies.models import Rate

from .conftest import d

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("term", "tenor", "rate"),
    [
        (1, "le1y", "4.35"),
        (12, "le1y", "4.35"),
        (13, "1to5y", "4.75"),
        (36, "1to5y", "4.75"),
        (60, "1to5y", "4.75"),
        (61, "gt5y", "4.90"),
    ],
)
def test_benchmark_tenor_boundaries(term, tenor, rate):
    found = services.rate_for(basis="benchmark", term_months=term, on_date=d("2018-05-01"))
    assert (found.tenor, found.annual_rate) == (tenor, Decimal(rate))


@pytest.mark.parametrize(
    ("term", "tenor", "rate"),
    [
        (12, "lpr1y", "3.45"),
        (13, "lpr5y", "4.20"),
        (36, "lpr5y", "4.20"),
        (60, "lpr5y", "4.20"),
        (61, "lpr5y", "4.20"),
    ],
)
def test_lpr_tenor_boundaries(term, tenor, rate):
    found = services.rate_for(basis="lpr", term_months=term, on_date=d("2023-09-01"))
    assert (found.tenor, found.annual_rate) == (tenor, Decimal(rate))


@pytest.mark.parametrize(
    ("on", "one_year", "five_year"),
    [
        ("2019-08-20", "4.25", "4.85"),  # the first LPR, on its day
        ("2019-09-19", "4.25", "4.85"),  # the day before the next publication
        ("2019-09-20", "4.20", "4.85"),  # only the 1-year rate moved
        ("2021-12-19", "3.85", "4.65"),  # unchanged for 20 months
        ("2022-05-20", "3.70", "4.45"),  # only the 5-year rate moved
        ("2023-08-21", "3.45", "4.20"),
        ("2024-10-20", "3.35", "3.85"),
        ("2024-10-21", "3.10", "3.60"),
        ("2026-11-01", "3.00", "3.50"),  # the latest seeded publication stays in force
    ],
)
def test_lpr_by_date(on, one_year, five_year):
    assert services.rate_for(basis="lpr", term_months=12, on_date=d(on)).annual_rate == Decimal(one_year)
    assert services.rate_for(basis="lpr", term_months=24, on_date=d(on)).annual_rate == Decimal(five_year)


@pytest.mark.parametrize(("basis", "on"), [("lpr", "2019-08-19"), ("benchmark", "2015-10-23")])
def test_no_rate_before_the_first_one_is_a_typed_error(basis, on):
    with pytest.raises(ApplicationError) as caught:
        services.rate_for(basis=basis, term_months=12, on_date=d(on))
    assert caught.value.code == "rate_missing"
    assert caught.value.extra["date"] == on
    assert on in str(caught.value.message)


def test_a_term_below_one_month_is_invalid():
    with pytest.raises(ApplicationError) as caught:
        services.rate_for(basis="lpr", term_months=0, on_date=d("2023-01-01"))
    assert caught.value.code == "invalid"


def test_an_admin_adds_the_next_lpr_and_it_takes_over(world):
    rate = services.rate_create(
        acting_user=world.admin,
        kind="lpr",
        tenor="lpr1y",
        effective_from=d("2026-12-21"),
        annual_rate=Decimal("2.90"),
        source="2026年12月LPR公告",
    )
    assert rate.created_by == world.admin
    assert services.rate_for(basis="lpr", term_months=12, on_date=d("2026-12-20")).annual_rate == Decimal(
        "3.00"
    )
    assert services.rate_for(basis="lpr", term_months=12, on_date=d("2026-12-21")) == rate
    event = AuditEvent.objects.get(action="rate.create")
    assert event.data["previous"] == "3.0000"


def test_a_rate_cannot_be_slipped_in_before_the_latest_of_its_tenor(world):
    before = Rate.objects.count()
    with pytest.raises(ApplicationError) as caught:
        services.rate_create(
            acting_user=world.admin,
            kind="lpr",
            tenor="lpr5y",
            effective_from=d("2025-05-20"),
            annual_rate=Decimal("3.40"),
            source="更正",
        )
    assert caught.value.extra["rules"][0]["rule"] == "rate_append_only"
    assert Rate.objects.count() == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tenor": "le1y"}, "tenor"),  # a benchmark tenor on an LPR
        ({"source": ""}, "source"),
        ({"annual_rate": Decimal("0")}, "annual_rate"),
        ({"annual_rate": Decimal("40")}, "annual_rate"),
        ({"kind": "mystery"}, "kind"),
    ],
)
def test_bad_rates_are_field_errors(world, changes, field):
    data = {
        "kind": "lpr",
        "tenor": "lpr1y",
        "effective_from": datetime.date(2026, 12, 21),
        "annual_rate": Decimal("2.90"),
        "source": "公告",
    } | changes
    with pytest.raises(ValidationError) as caught:
        services.rate_create(acting_user=world.admin, **data)
    assert field in caught.value.message_dict
    assert not Rate.objects.filter(effective_from=d("2026-12-21")).exists()


def test_only_admins_add_rates(world):
    with pytest.raises(NotPermitted):
        services.rate_create(
            acting_user=world.finance,
            kind="lpr",
            tenor="lpr1y",
            effective_from=d("2026-12-21"),
            annual_rate=Decimal("2.90"),
            source="公告",
        )
    assert not Rate.objects.filter(effective_from=d("2026-12-21")).exists()


def test_the_seeded_history():
    assert Rate.objects.filter(kind="benchmark").count() == 3
    assert Rate.objects.filter(kind="lpr", tenor="lpr1y").count() == 15
    assert Rate.objects.filter(kind="lpr", tenor="lpr5y").count() == 15
