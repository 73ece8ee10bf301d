"""Reference data only an administrator can enter, and the warnings when it runs out: the holiday
calendar of the current and (from 1 November) the next year (DOMAIN §4.3: a missing year is
named, never guessed), and the LPR table more than a month behind (DOMAIN §5). One selector
decides; the admin's home page, the calendar page and the rates page show it."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from policies import selectors, services
from policies.models import Rate

from .conftest import HOLIDAYS_2027, WORKDAYS_2027, d

pytestmark = pytest.mark.django_db

NEXT_MISSING = 'id="warning-calendar_next_missing"'
CURRENT_MISSING = 'id="warning-calendar_current_missing"'
LPR_STALE = 'id="warning-lpr_stale"'


def store_2027(admin):
    services.calendar_year_define(
        acting_user=admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027, source="通知"
    )


def enter_lpr(admin, on: str):
    for tenor, rate in (("lpr1y", "2.90"), ("lpr5y", "3.40")):
        services.rate_create(
            acting_user=admin,
            kind="lpr",
            tenor=tenor,
            effective_from=d(on),
            annual_rate=Decimal(rate),
            source="全国银行间同业拆借中心公告",
        )


# ---- the selector ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "codes"),
    [
        # The seeded calendar covers 2004-2026; 2027 is missing.
        ("2026-06-17", []),
        ("2026-10-31", []),  # the day before the notice month: nothing yet
        ("2026-11-01", [("calendar_next_missing", 2027)]),
        ("2026-12-31", [("calendar_next_missing", 2027)]),
        # In a year with no calendar, the current year is the one that matters (any day of it).
        ("2027-01-01", [("calendar_current_missing", 2027)]),
        ("2027-03-10", [("calendar_current_missing", 2027)]),
        ("2027-11-15", [("calendar_current_missing", 2027), ("calendar_next_missing", 2028)]),
    ],
)
def test_calendar_warnings_by_date(today, codes, django_assert_num_queries):
    with django_assert_num_queries(1):
        warnings = selectors.calendar_warnings(d(today))
    assert [(w.code, w.year) for w in warnings] == codes
    assert all(str(year) in w.message for w, (_code, year) in zip(warnings, codes, strict=True))


def test_calendar_warnings_go_once_the_year_is_stored(world):
    store_2027(world.admin)
    assert selectors.calendar_warnings(d("2026-11-01")) == []
    assert selectors.calendar_warnings(d("2027-03-10")) == []
    assert [w.code for w in selectors.calendar_warnings(d("2027-11-01"))] == ["calendar_next_missing"]


def test_the_current_year_is_the_stronger_warning():
    (current,) = selectors.calendar_warnings(d("2027-03-10"))
    (upcoming,) = selectors.calendar_warnings(d("2026-11-01"))
    assert (current.severity, upcoming.severity) == ("bad", "warn")


def test_lpr_warning_names_the_last_publication_entered(world):
    # The seeded LPR table ends with the publication of 2025-05-20.
    (warning,) = selectors.lpr_warnings(d("2026-06-17"))
    assert (warning.code, warning.last_publication) == ("lpr_stale", d("2025-05-20"))
    assert "2025-05-20" in warning.message
    # A month after the last publication it is not stale yet; a day later it is.
    assert selectors.lpr_warnings(d("2025-06-20")) == []
    assert selectors.lpr_warnings(d("2025-06-21"))[0].last_publication == d("2025-05-20")
    enter_lpr(world.admin, "2026-06-20")
    assert selectors.lpr_warnings(d("2026-06-25")) == []
    assert selectors.reference_data_warnings(d("2026-07-20")) == []
    # 2026-11-01: 2027 is missing and the table is more than a month behind; calendar first.
    assert [w.code for w in selectors.reference_data_warnings(d("2026-11-01"))] == [
        "calendar_next_missing",
        "lpr_stale",
    ]


# ---- the admin's home page ---------------------------------------------------------------------


def home(client, django_assert_max_num_queries, limit=12):
    with django_assert_max_num_queries(limit):
        r = client.get(reverse("home"))
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.today("2026-11-01")
def test_home_warns_the_admin_from_1_november_that_next_year_is_missing(
    world, client_as, django_assert_max_num_queries
):
    enter_lpr(world.admin, "2026-10-20")
    html = home(client_as(world.admin), django_assert_max_num_queries)
    assert NEXT_MISSING in html
    assert CURRENT_MISSING not in html
    assert LPR_STALE not in html
    # The Chinese names the year and what cannot be computed, with a link to the calendar.
    assert "2027年的节假日安排尚未录入" in html
    assert "公示期、首个工作日等按工作日计算的日期在2027年将无法计算" in html
    assert reverse("policies:calendar") + "#import-year" in html


@pytest.mark.today("2026-10-31")
def test_home_does_not_warn_on_31_october(world, client_as, django_assert_max_num_queries):
    enter_lpr(world.admin, "2026-10-20")
    html = home(client_as(world.admin), django_assert_max_num_queries)
    assert "reference-warning" not in html


@pytest.mark.today("2027-03-10")
def test_home_warns_strongly_when_the_current_year_is_missing_and_stops_once_stored(
    world, client_as, django_assert_max_num_queries
):
    enter_lpr(world.admin, "2027-02-20")
    client = client_as(world.admin)
    html = home(client, django_assert_max_num_queries)
    assert CURRENT_MISSING in html
    assert 'class="form-errors reference-warning"' in html
    assert "2027" in html and "尚未录入" in html

    store_2027(world.admin)
    html = home(client, django_assert_max_num_queries)
    assert "reference-warning" not in html


@pytest.mark.today("2026-11-01")
def test_other_roles_do_not_see_reference_warnings(world, client_as, django_assert_max_num_queries):
    html = home(client_as(world.cadre), django_assert_max_num_queries)
    assert "reference-warning" not in html


def test_home_warns_the_admin_of_a_stale_lpr_table(world, client_as, django_assert_max_num_queries):
    # Today is 2026-06-17 and the last LPR entered is 2025-05-20.
    html = home(client_as(world.admin), django_assert_max_num_queries)
    assert LPR_STALE in html
    assert "2025-05-20" in html
    assert reverse("policies:rate_list") + "#rate-form" in html


@pytest.mark.today("2026-06-25")
def test_the_lpr_warning_goes_once_the_publication_is_entered(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.admin)
    assert LPR_STALE in home(client, django_assert_max_num_queries)
    r = client.post(
        reverse("policies:rate_list"),
        {
            "kind": "lpr",
            "tenor": "lpr1y",
            "effective_from": "2026-06-20",
            "annual_rate": "2.90",
            "source": "公告",
        },
    )
    assert r.status_code == 302
    assert LPR_STALE not in home(client, django_assert_max_num_queries)
    assert Rate.objects.filter(kind="lpr", effective_from=datetime.date(2026, 6, 20)).exists()


def test_the_home_page_query_count_does_not_depend_on_the_warnings(
    world, client_as, django_assert_num_queries
):
    client = client_as(world.admin)
    client.get(reverse("home"))  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as with_warnings:
        assert LPR_STALE in client.get(reverse("home")).content.decode()
    enter_lpr(world.admin, "2026-06-01")
    with django_assert_num_queries(len(with_warnings.captured_queries)):
        assert "reference-warning" not in client.get(reverse("home")).content.decode()


# ---- the calendar and rates pages --------------------------------------------------------------


@pytest.mark.today("2026-11-01")
def test_calendar_page_names_the_missing_year_from_1_november(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"))
    html = r.content.decode()
    assert NEXT_MISSING in html
    assert "2027年的节假日安排尚未录入" in html
    assert 'id="import-year"' in html


@pytest.mark.today("2026-10-31")
def test_calendar_page_does_not_warn_before_november(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"))
    assert "reference-warning" not in r.content.decode()


@pytest.mark.today("2027-03-10")
def test_calendar_page_warns_strongly_in_a_missing_current_year(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"))
    assert CURRENT_MISSING in r.content.decode()


def test_rates_page_warns_everyone_with_the_link_for_admins(world, client_as, django_assert_max_num_queries):
    client = client_as(world.cadre)
    with django_assert_max_num_queries(8):
        r = client.get(reverse("policies:rate_list"))
    html = r.content.decode()
    assert LPR_STALE in html and "2025-05-20" in html
    assert "#rate-form" not in html  # a cadre cannot enter rates
    html = client_as(world.admin).get(reverse("policies:rate_list")).content.decode()
    assert LPR_STALE in html
    assert 'href="/policies/rates/#rate-form"' in html
    assert 'id="rate-form"' in html
