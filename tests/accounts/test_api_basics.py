import pytest

pytestmark = pytest.mark.django_db


def test_token_endpoint_gives_a_token_that_authenticates(world, api):
    world.cadre.set_password("s3cret-pass")
    world.cadre.save()
    r = api.post("/api/v1/auth/token/", {"username": "cadre", "password": "s3cret-pass"}, format="json")
    assert r.status_code == 200
    token = r.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    r = api.get("/api/v1/regions/")
    assert r.status_code == 200
    assert [x["name"] for x in r.json()["results"]] == ["五通村"]


def test_wrong_password_is_a_400_in_the_error_shape(world, api):
    r = api.post("/api/v1/auth/token/", {"username": "cadre", "password": "nope"}, format="json")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid"
    assert set(body) == {"message", "code", "extra"}


def test_unauthenticated_api_call_is_401(api):
    r = api.get("/api/v1/regions/")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


def test_regions_follow_scope(world, api_as):
    def names(user):
        return {x["name"] for x in api_as(user).get("/api/v1/regions/?page_size=500").json()["results"]}

    assert names(world.county_office) == {"临桂区", "五通镇", "两江镇", "五通村", "茶洞村", "两江村"}
    assert names(world.township_officer) == {"五通镇", "五通村", "茶洞村"}
    assert names(world.officer) == {"五通镇", "五通村", "茶洞村"}
    assert names(world.other_cadre) == {"定江村"}
    r = api_as(world.cadre).get(f"/api/v1/regions/{world.vz.pk}/")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_home_page_counts_only_the_users_area(world, client_as):
    import datetime

    from households.models import BlacklistEntry, CreditRating, Household
    from tests.factories import CreditRatingFactory, HouseholdFactory

    mine = HouseholdFactory(village=world.v1a)
    HouseholdFactory(village=world.v1a, poverty_status=Household.PovertyStatus.MONITORED_EDGE)
    HouseholdFactory(village=world.vz)  # another county: never counted
    CreditRatingFactory(household=mine, profile=world.profile, branch=world.br1, rated_by=world.officer)
    expired = HouseholdFactory(village=world.v1a)
    CreditRatingFactory(
        household=expired,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        valid_from=datetime.date(2020, 1, 1),
        valid_to=datetime.date(2020, 12, 31),
    )
    unrated = HouseholdFactory(village=world.v1a)
    CreditRatingFactory(
        household=unrated, grade=CreditRating.Grade.NONE, credit_limit=0, profile=world.profile
    )
    BlacklistEntry.objects.create(household=mine, reason="恶意逃债", added_by=world.county_office)

    r = client_as(world.cadre).get("/")
    s = r.context["summary"]
    assert (s["total"], s["monitored"], s["rated"], s["blacklisted"]) == (4, 1, 1, 1)
    assert "五通村" in r.content.decode()


def test_out_of_scope_page_is_a_chinese_404(world, client_as):
    from tests.factories import HouseholdFactory

    other = HouseholdFactory(village=world.vz)
    r = client_as(world.cadre).get(f"/households/{other.pk}/")
    assert r.status_code == 404
    assert "页面不存在" in r.content.decode()
