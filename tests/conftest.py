import datetime
import zoneinfo

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Role

from .factories import (
    BankFactory,
    BranchFactory,
    CountyFactory,
    PolicyProfileFactory,
    RiskFundFactory,
    TownshipFactory,
    UserFactory,
    VillageFactory,
)

# Every test runs on a pinned clock: no test depends on the day it runs (STYLE.md rule 13). A
# Wednesday in June, a plain working day in a year the seeded calendar covers, mid-quarter and
# mid-morning. A test that is about a particular day says so: @pytest.mark.today("2026-10-08")
# (10:00 in Asia/Shanghai unless a time is given). The clock ticks on from there, so timeouts
# and "a moment later" still work.
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
PINNED_TODAY = datetime.date(2026, 6, 17)


def moment(value) -> datetime.datetime:
    """A date, an ISO date or date-time string, or a datetime, as an aware Shanghai datetime
    (a bare date means 10:00 that day)."""
    if isinstance(value, str):
        value = (
            datetime.datetime.fromisoformat(value)
            if "T" in value or " " in value
            else (datetime.date.fromisoformat(value))
        )
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time(10, 0))
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def login_request():
    """The request a password login needs: django-axes counts failures per account and per
    address, so `authenticate()` and `client.login()` must pass one (`request=login_request()`)."""
    from django.test import RequestFactory

    return RequestFactory().post("/accounts/login/")


def pytest_configure(config):
    config.addinivalue_line("markers", "today(date): run the test with the clock set to this day (10:00)")
    # Module- and session-scoped fixtures (the seeded demo, say) are set up before any test's own
    # fixtures, so the pin starts with the session; each test then travels to its own day.
    config._pinned_clock = time_machine.travel(moment(PINNED_TODAY), tick=True)
    config._pinned_clock.start()


def pytest_unconfigure(config):
    traveller = getattr(config, "_pinned_clock", None)
    if traveller is not None:
        traveller.stop()


@pytest.fixture(autouse=True)
def pinned_clock(request):
    """The test's day: its `today` marker, or PINNED_TODAY. Yields the time-machine traveller,
    so a test can `pinned_clock.move_to(...)` to let days pass."""
    marker = request.node.get_closest_marker("today")
    when = moment(marker.args[0]) if marker else moment(PINNED_TODAY)
    with time_machine.travel(when, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def fresh_cache():
    """The API's rate limits count in the cache (per process in the tests): each test starts at
    zero, whichever tests ran before it on this worker."""
    from django.core.cache import cache

    cache.clear()


class World:
    """Two counties. County A has townships T1 (villages V1a, V1b) and T2 (V2a); bank B has
    branch BR1 serving T1 and BR2 serving T2. County Z, with one township and village, is
    somebody else's: nobody in county A may see it. One user per role, at the unit the role
    belongs to."""

    def __init__(self):
        self.county = CountyFactory(name="临桂区", code="450312")
        self.t1 = TownshipFactory(parent=self.county, name="五通镇", code="450312101")
        self.t2 = TownshipFactory(parent=self.county, name="两江镇", code="450312102")
        self.v1a = VillageFactory(parent=self.t1, name="五通村", code="450312101201")
        self.v1b = VillageFactory(parent=self.t1, name="茶洞村", code="450312101202")
        self.v2a = VillageFactory(parent=self.t2, name="两江村", code="450312102201")
        self.other_county = CountyFactory(name="灵川县", code="450323")
        self.tz = TownshipFactory(parent=self.other_county, name="定江镇", code="450323101")
        self.vz = VillageFactory(parent=self.tz, name="定江村", code="450323101201")
        self.bank = BankFactory(name="临桂农商银行", code="B001")
        self.br1 = BranchFactory(parent=self.bank, name="五通支行", code="B001-01")
        self.br1.served_townships.set([self.t1])
        self.br2 = BranchFactory(parent=self.bank, name="两江支行", code="B001-02")
        self.br2.served_townships.set([self.t2])
        self.profile = PolicyProfileFactory(county=self.county)
        self.other_profile = PolicyProfileFactory(county=self.other_county)
        # The county's risk fund at bank B, deep enough that only tests about the leverage cap meet
        # it (10 million × 10 = 100 million of lending).
        self.fund = RiskFundFactory(county=self.county, bank=self.bank, deposit="10000000.00")

        self.cadre = UserFactory(username="cadre", unit=self.v1a, roles=[Role.VILLAGE_CADRE])
        self.township_officer = UserFactory(username="township", unit=self.t1, roles=[Role.TOWNSHIP_OFFICER])
        self.county_office = UserFactory(username="county", unit=self.county, roles=[Role.COUNTY_OFFICE])
        self.officer = UserFactory(username="officer", unit=self.br1, roles=[Role.LOAN_OFFICER])
        self.approver = UserFactory(username="approver", unit=self.br1, roles=[Role.APPROVER])
        self.finance = UserFactory(username="finance", unit=self.county, roles=[Role.FINANCE])
        self.committee = UserFactory(username="committee", unit=self.county, roles=[Role.FUND_COMMITTEE])
        self.admin = UserFactory(username="admin", unit=self.county, roles=[Role.ADMIN])
        self.other_cadre = UserFactory(username="othercadre", unit=self.vz, roles=[Role.VILLAGE_CADRE])

    def users(self):
        return {
            "cadre": self.cadre,
            "township_officer": self.township_officer,
            "county_office": self.county_office,
            "officer": self.officer,
            "approver": self.approver,
            "finance": self.finance,
            "committee": self.committee,
            "admin": self.admin,
        }


def reference_data_ensure() -> None:
    """Put back the migrated reference rows a transactional test's flush removed: the working-day
    calendar, the rate table and the roles (one query each when nothing is missing). The autouse
    `reference_data` fixture calls it for every test; module-scoped seedings (the demo) call it
    themselves, since they run before any test's fixtures."""
    from policies import seeding
    from policies.models import CalendarDay, CalendarYear, Rate

    seeding.seed_calendar(CalendarYear, CalendarDay)
    seeding.seed_rates(Rate)
    if Role.objects.count() < len(Role.CHOICES):
        Role.objects.bulk_create([Role(code=code) for code, _ in Role.CHOICES], ignore_conflicts=True)


def content_types_ensure() -> bool:
    """Content types and permissions (the admin site's log, the admin group's permissions) come from
    post_migrate, which a serialised flush skips. Made again inside the caller's transaction, so
    they roll back with it and never clash with a later serialised reload; True when they were
    made, and then the caller empties the content-type cache on its way out too, since its ids
    belong to rows that came and went."""
    from django.contrib.contenttypes.models import ContentType

    if ContentType.objects.exists():
        return False
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    ContentType.objects.clear_cache()
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    return True


@pytest.fixture(autouse=True)
def reference_data(request):
    """The working-day calendar, the rate table and the roles come from data migrations. A transactional
    test (the browser tests) flushes them, so tests that use the database get back whatever is
    missing (one query each when nothing is)."""
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    # pytest-django's `db` honours a transactional marker or fixture on the same test.
    request.getfixturevalue("db")
    reference_data_ensure()
    if content_types_ensure():
        from django.contrib.contenttypes.models import ContentType

        request.addfinalizer(ContentType.objects.clear_cache)


@pytest.fixture
def world(db) -> World:
    return World()


@pytest.fixture
def api():
    """An API client; `api.force_authenticate(user)` to act as someone."""
    return APIClient()


@pytest.fixture
def api_as(world):
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def client_as(client):
    def make(user):
        client.force_login(user)
        return client

    return make


def pytest_collection_modifyitems(config, items):
    """A transactional test must also roll back serialised: otherwise its flush and a later
    serialised test's reload of the migrated rows (content types, roles) collide at random,
    depending on which worker runs what."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, serialized_rollback=True)"
            )
