"""Django admin shows households read-only and never the encrypted ID column."""

import pytest
from django.urls import reverse

from tests.factories import HouseholdFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_shows_masked_numbers_only(world, client):
    household = HouseholdFactory(village=world.v1a)
    member = household.members.get()
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    pages = [
        reverse("admin:households_household_changelist"),
        reverse("admin:households_household_change", args=[household.pk]),
        reverse("admin:households_member_changelist"),
        reverse("admin:households_member_change", args=[member.pk]),
        reverse("admin:households_creditrating_changelist"),
        reverse("admin:households_blacklistentry_changelist"),
    ]
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
        html = r.content.decode()
        assert member.id_number_encrypted not in html
        assert member.id_number_hash not in html
        assert member.id_number not in html
    assert member.id_number_masked in client.get(pages[3]).content.decode()
    # Read-only: changes go through the services that check rules and write the audit trail.
    assert client.get(reverse("admin:households_household_add")).status_code == 403
