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


# ---- pricing by contract date (DOMAIN §5) ------------------------------------------------------


def test_a_new_profile_prices_on_the_lpr_by_contract_date_and_caps_at_the_benchmark(world):
    from policies.models import PolicyProfile

    profile = PolicyProfile(
        county=world.county, name="默认", effective_from=d("2026-01-01"), source_text="P1"
    )
    # DOMAIN §5: the LPR since 2019-08-20; the subsidy cap stays the benchmark (DOMAIN §6, P1 art.2).
    assert (profile.rate_basis, profile.subsidy_cap_basis) == ("lpr", "benchmark")


@pytest.mark.parametrize(
    ("basis", "on", "kind"),
    [
        ("lpr", "2019-08-19", "benchmark"),  # the day before the first LPR
        ("lpr", "2019-08-20", "lpr"),
        ("lpr", "2026-06-17", "lpr"),
        ("benchmark", "2019-08-20", "benchmark"),
        ("benchmark", "2026-06-17", "benchmark"),
    ],
)
def test_the_table_follows_the_contract_date(basis, on, kind):
    from policies.selectors import rate_kind_for

    assert rate_kind_for(basis=basis, contract_date=d(on)) == kind


@pytest.mark.parametrize(
    ("basis", "term", "on", "tenor", "rate"),
    [
        ("lpr", 12, "2019-08-19", "le1y", "4.35"),  # before the LPR: benchmark, 1 year or less
        ("lpr", 13, "2019-08-19", "1to5y", "4.75"),  # benchmark, 1 to 5 years
        ("lpr", 60, "2019-08-19", "1to5y", "4.75"),
        ("lpr", 12, "2019-08-20", "lpr1y", "4.25"),  # the first LPR publication
        ("lpr", 24, "2019-08-20", "lpr5y", "4.85"),
        ("lpr", 12, "2026-06-17", "lpr1y", "3.00"),  # the LPR of 2025-05-20
        ("lpr", 24, "2026-06-17", "lpr5y", "3.50"),
        ("benchmark", 24, "2026-06-17", "1to5y", "4.75"),
    ],
)
def test_the_contract_rate(basis, term, on, tenor, rate):
    from policies.selectors import contract_rate_for

    found = contract_rate_for(basis=basis, term_months=term, contract_date=d(on))
    assert (found.tenor, found.annual_rate) == (tenor, Decimal(rate))


def test_an_unknown_basis_is_invalid():
    from policies.selectors import rate_kind_for

    with pytest.raises(ApplicationError) as caught:
        rate_kind_for(basis="floating", contract_date=d("2026-06-17"))
    assert caught.value.code == "invalid"


@pytest.mark.parametrize(
    ("on", "stale"),
    [
        ("2019-08-19", None),  # no LPR yet: nothing to be behind on
        ("2025-06-20", None),  # a month after the last publication entered (2025-05-20)
        ("2025-06-21", "2025-05-20"),  # more than a month: publications are missing
        ("2026-06-17", "2025-05-20"),
    ],
)
def test_an_lpr_table_more_than_a_month_behind_is_stale(on, stale):
    from policies.selectors import lpr_stale_on

    assert lpr_stale_on(d(on)) == (d(stale) if stale else None)


def test_entering_the_missing_publication_ends_the_staleness(world):
    from policies.selectors import lpr_stale_on

    for tenor, rate in (("lpr1y", "3.00"), ("lpr5y", "3.50")):
        services.rate_create(
            acting_user=world.admin,
            kind="lpr",
            tenor=tenor,
            effective_from=d("2026-05-20"),
            annual_rate=Decimal(rate),
            source="2026年5月LPR公告",
        )
    assert lpr_stale_on(d("2026-06-17")) is None
    assert lpr_stale_on(d("2026-06-21")) == d("2026-05-20")
