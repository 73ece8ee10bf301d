"""The scope matrix: every role against every page and endpoint that shows region data.
A user sees households at or below their unit (bank staff: the townships their branch serves);
anything else answers 404 and never appears in a list or a count."""

import pytest
from django.urls import reverse

from tests.factories import HouseholdFactory

pytestmark = pytest.mark.django_db

# Which of the three households (in t1's village v1a, t2's village v2a, and the other county's
# village vz) each user may see.
VISIBLE = {
    "cadre": {"h1"},
    "township_officer": {"h1"},
    "county_office": {"h1", "h2"},
    "officer": {"h1"},
    "approver": {"h1"},
    "finance": {"h1", "h2"},
    "committee": {"h1", "h2"},
    "admin": {"h1", "h2"},
    "other_cadre": {"hz"},
}


@pytest.fixture
def homes(world):
    return {
        "h1": HouseholdFactory(village=world.v1a, registration_no="H1-0001"),
        "h2": HouseholdFactory(village=world.v2a, registration_no="H2-0001"),
        "hz": HouseholdFactory(village=world.vz, registration_no="HZ-0001"),
    }


def all_users(world):
    return {**world.users(), "other_cadre": world.other_cadre}


def detail_endpoints(h):
    return [
        f"/api/v1/households/{h.pk}/",
        f"/api/v1/households/{h.pk}/ratings/",
        reverse("households:detail", args=[h.pk]),
    ]


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_household_detail_pages_and_endpoints_follow_scope(world, homes, client, api_as, who):
    user = all_users(world)[who]
    client.force_login(user)
    api = api_as(user)
    for key, household in homes.items():
        expected = 200 if key in VISIBLE[who] else 404
        for url in detail_endpoints(household):
            c = api if url.startswith("/api/") else client
            assert c.get(url).status_code == expected, (who, key, url)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_household_lists_and_counts_follow_scope(world, homes, client, api_as, who):
    user = all_users(world)[who]
    client.force_login(user)
    body = api_as(user).get("/api/v1/households/?page_size=500").json()
    seen = {r["registration_no"] for r in body["results"]}
    expected = {homes[k].registration_no for k in VISIBLE[who]}
    assert seen == expected
    assert body["count"] == len(expected)

    page = client.get(reverse("households:list")).content.decode()
    for key, household in homes.items():
        assert (household.registration_no in page) == (key in VISIBLE[who]), (who, key)

    export = client.get(reverse("households:export"))
    if export.status_code == 200:
        from io import BytesIO

        from openpyxl import load_workbook

        cells = {
            str(c.value)
            for row in load_workbook(BytesIO(export.content), read_only=True).active.iter_rows()
            for c in row
        }
        assert {h.registration_no for h in homes.values()} & cells == expected

    home = client.get(reverse("home"))
    assert home.context["summary"]["total"] == len(expected)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_search_by_full_id_number_does_not_cross_scope(world, homes, api_as, who):
    api = api_as(all_users(world)[who])
    for key, household in homes.items():
        number = household.members.get(is_head=True).id_number
        found = api.get("/api/v1/households/", {"q": number}).json()["count"]
        assert found == (1 if key in VISIBLE[who] else 0), (who, key)


PROFILE_VISIBLE = {
    "cadre": {"a"},
    "township_officer": {"a"},
    "county_office": {"a"},
    "officer": {"a"},
    "approver": {"a"},
    "finance": {"a"},
    "committee": {"a"},
    "admin": {"a"},
    "other_cadre": {"z"},
}


@pytest.mark.parametrize("who", sorted(PROFILE_VISIBLE))
def test_policy_profiles_follow_scope(world, client, api_as, who):
    user = all_users(world)[who]
    client.force_login(user)
    api = api_as(user)
    profiles = {"a": world.profile, "z": world.other_profile}
    listed = {r["id"] for r in api.get("/api/v1/policy-profiles/?page_size=500").json()["results"]}
    for key, profile in profiles.items():
        visible = key in PROFILE_VISIBLE[who]
        assert (profile.pk in listed) == visible
        assert api.get(f"/api/v1/policy-profiles/{profile.pk}/").status_code == (200 if visible else 404)
        page = client.get(reverse("policies:profile_detail", args=[profile.pk]))
        assert page.status_code == (200 if visible else 404), (who, key)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_blacklist_follows_scope(world, homes, api_as, who):
    from households.models import BlacklistEntry

    for household in homes.values():
        BlacklistEntry.objects.create(household=household, reason="恶意逃债", added_by=world.admin)
    body = api_as(all_users(world)[who]).get("/api/v1/blacklist/?page_size=500").json()
    assert body["count"] == len(VISIBLE[who])
