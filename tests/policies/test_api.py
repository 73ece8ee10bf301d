"""The API of API.md for the calendar, policy profiles and rates."""

import datetime

import pytest
from django.utils import timezone

from policies import services
from policies.models import PolicyProfile, Rate

from .conftest import HOLIDAYS_2027, WORKDAYS_2027

pytestmark = pytest.mark.django_db

WORKING_DAYS = "/api/v1/calendar/working-days/"
PROFILES = "/api/v1/policy-profiles/"
RATES = "/api/v1/rates/"


# ---- calendar/working-days ---------------------------------------------------------------------------


def test_working_days(world, api_as):
    r = api_as(world.cadre).get(WORKING_DAYS, {"start": "2023-09-28", "count": 5})
    assert r.status_code == 200
    assert r.json() == {"start": "2023-09-28", "count": 5, "end": "2023-10-10"}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"start", "count"}),
        ({"start": "2023-02-30", "count": 5}, {"start"}),
        ({"start": "28/09/2023", "count": 5}, {"start"}),
        ({"start": "2023-09-28", "count": 0}, {"count"}),
        ({"start": "2023-09-28", "count": "five"}, {"count"}),
        ({"start": "2023-09-28", "count": 100000}, {"count"}),
    ],
)
def test_working_days_bad_parameters_are_400_invalid(world, api_as, params, fields):
    r = api_as(world.cadre).get(WORKING_DAYS, params)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid"
    assert set(body["extra"]["fields"]) == fields


def test_working_days_into_a_missing_year_is_400_calendar_missing(world, api_as):
    api = api_as(world.cadre)
    r = api.get(WORKING_DAYS, {"start": "2026-12-28", "count": 5})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "calendar_missing"
    assert body["extra"] == {"year": 2027}
    assert "2027" in body["message"]

    services.calendar_year_define(
        acting_user=world.admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027, source="通知"
    )
    r = api.get(WORKING_DAYS, {"start": "2026-12-28", "count": 5})
    assert r.status_code == 200
    assert r.json()["end"] == "2027-01-04"


def test_working_days_needs_authentication(api):
    r = api.get(WORKING_DAYS, {"start": "2023-09-28", "count": 5})
    assert r.status_code == 401


# ---- policy-profiles ---------------------------------------------------------------------------------


def payload(county, **changes):
    return {
        "county": county.pk,
        "name": "2027版实施细则",
        "effective_from": str(timezone.localdate()),
        "source_text": "区扶贫办〔2026〕12号",
    } | changes


def test_profiles_list_is_scoped_and_says_which_is_in_force(world, api_as):
    body = api_as(world.county_office).get(PROFILES).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["id"] == world.profile.pk
    assert row["status"] == "in_force"
    assert row["effective_to"] is None
    assert row["amount_max"] == "50000.00"
    assert row["publicity_levels"] == ["village", "township", "county"]
    assert set(services.PARAMETER_FIELDS) <= set(row)

    other = api_as(world.other_cadre).get(PROFILES).json()
    assert [r["id"] for r in other["results"]] == [world.other_profile.pk]


def test_a_profile_out_of_scope_is_404(world, api_as):
    r = api_as(world.officer).get(f"{PROFILES}{world.other_profile.pk}/")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert api_as(world.officer).get(f"{PROFILES}{world.profile.pk}/").status_code == 200


def test_admin_posts_a_new_version(world, api_as):
    r = api_as(world.admin).post(
        PROFILES, payload(world.county, amount_max="30000.00", publicity_levels=["village"]), format="json"
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["amount_max"] == "30000.00"
    assert body["publicity_levels"] == ["village"]
    assert body["status"] == "in_force"
    # Parameters not sent are carried over.
    assert body["term_max_months"] == world.profile.term_max_months
    listed = api_as(world.admin).get(PROFILES, {"county": world.county.pk}).json()["results"]
    old = next(r for r in listed if r["id"] == world.profile.pk)
    assert old["status"] == "superseded"
    assert old["effective_to"] == str(timezone.localdate() - datetime.timedelta(days=1))


@pytest.mark.parametrize("who", ["county_office", "cadre", "officer", "finance"])
def test_only_admins_post_profiles(world, api_as, who):
    r = api_as(getattr(world, who)).post(PROFILES, payload(world.county), format="json")
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"
    assert PolicyProfile.objects.count() == 2


def test_posting_for_a_county_out_of_scope_is_as_if_it_did_not_exist(world, api_as):
    r = api_as(world.admin).post(PROFILES, payload(world.other_county), format="json")
    assert r.status_code == 400
    assert set(r.json()["extra"]["fields"]) == {"county"}
    assert PolicyProfile.objects.filter(county=world.other_county).count() == 1


def test_a_back_dated_version_is_400_rule_failed(world, api_as):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    r = api_as(world.admin).post(
        PROFILES, payload(world.county, effective_from=str(yesterday)), format="json"
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rule_failed"
    (rule,) = body["extra"]["rules"]
    assert rule["rule"] == "profile_not_backdated"
    assert rule["source"] == "DOMAIN §10"
    assert PolicyProfile.objects.filter(county=world.county).count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"age_min": 70}, "age_max"),
        ({"amount_max": "abc"}, "amount_max"),
        ({"publicity_levels": ["province"]}, "publicity_levels"),
        ({"effective_from": "2027-13-01"}, "effective_from"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_profile_input_is_400_invalid_with_the_field(world, api_as, changes, field):
    r = api_as(world.admin).post(PROFILES, payload(world.county, **changes), format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"
    assert field in r.json()["extra"]["fields"]
    assert PolicyProfile.objects.filter(county=world.county).count() == 1


def test_profile_list_queries_do_not_grow_with_rows(world, api_as, django_assert_max_num_queries):
    for i in range(5):
        PolicyProfile.objects.create(
            county=world.county, name=f"v{i}", effective_from=datetime.date(2016 + i, 1, 1), source_text="x"
        )
    api = api_as(world.admin)
    with django_assert_max_num_queries(4):
        assert api.get(PROFILES).json()["count"] == 6


# ---- rates -------------------------------------------------------------------------------------------


def test_any_signed_in_user_reads_rates(world, api_as):
    body = api_as(world.cadre).get(RATES, {"kind": "lpr", "tenor": "lpr1y", "page_size": 500}).json()
    assert body["count"] == 15
    current = [r for r in body["results"] if r["in_force"]]
    assert [(r["effective_from"], r["annual_rate"]) for r in current] == [("2025-05-20", "3.0000")]


def test_only_admins_post_rates(world, api_as):
    data = {
        "kind": "lpr",
        "tenor": "lpr5y",
        "effective_from": "2026-12-21",
        "annual_rate": "3.40",
        "source": "2026年12月LPR公告",
    }
    r = api_as(world.approver).post(RATES, data, format="json")
    assert r.status_code == 403
    r = api_as(world.admin).post(RATES, data, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["annual_rate"] == "3.4000"
    assert Rate.objects.filter(effective_from="2026-12-21").count() == 1
    r = api_as(world.admin).post(RATES, data | {"effective_from": "2026-12-01"}, format="json")
    assert r.status_code == 400
    assert r.json()["extra"]["rules"][0]["rule"] == "rate_append_only"


def test_rates_need_authentication(api):
    assert api.get(RATES).status_code == 401


def test_the_schema_documents_the_endpoints(world, api_as):
    r = api_as(world.admin).get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/calendar/working-days/", "/api/v1/policy-profiles/", "/api/v1/rates/"} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/calendar/working-days/"]["get"]["parameters"]}
    assert {"start", "count"} <= params
