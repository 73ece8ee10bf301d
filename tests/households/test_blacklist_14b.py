"""Issue 14: the blacklist page's button to the removal requests says what it opens."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_button_to_the_removal_requests_says_what_it_opens(world, client_as):
    html = client_as(world.cadre).get(reverse("households:blacklist")).content.decode()
    link = f'href="{reverse("households:blacklist_removals")}">查看移出黑名单的申请</a>'
    assert link in html
    assert "移出申请列表" not in html
