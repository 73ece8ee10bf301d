"""A list opened from a home page's to-do line says so (issue 14): a banner names the same words as
the home page's line and links back to the whole list, keeping the other filters."""

import re

import pytest
from django.urls import reverse

from tests import test_home_todo
from tests.test_home_todo import todo

pytestmark = pytest.mark.django_db

# The home page tests' village: drafts, one sent back, an objection, publicity ending this week.
cadre_world = test_home_todo.cadre_world


@pytest.mark.parametrize("key", ["returned", "objection", "publicity_ending"])
def test_the_list_names_the_to_do_line_it_was_opened_from(cadre_world, client_as, key):
    client = client_as(cadre_world.cadre)
    line = todo(client.get(reverse("home")))[key]
    response = client.get(line.url)
    banner = response.context["todo_filter"]
    assert banner["label"] == str(line.label)
    html = response.content.decode()
    assert 'class="card todo-filter"' in html and str(line.label) in html
    # "Show all" drops the to-do filter only.
    assert "todo=" not in banner["clear_url"] and "ending=" not in banner["clear_url"]
    path, _, query = line.url.partition("?")
    assert banner["clear_url"].startswith(path)
    everything = client.get(banner["clear_url"])
    assert everything.status_code == 200 and everything.context["todo_filter"] is None


def test_a_sent_back_filter_keeps_the_state_when_cleared(cadre_world, client_as):
    client = client_as(cadre_world.cadre)
    response = client.get(reverse("loans:application_list"), {"state": "draft", "todo": "returned"})
    assert response.context["todo_filter"]["clear_url"] == reverse("loans:application_list") + "?state=draft"


@pytest.mark.parametrize("query", [{}, {"todo": "nonsense"}, {"ending": "month"}])
def test_no_banner_without_a_known_to_do_filter(world, client_as, query):
    for name in ("loans:application_list", "loans:book_list", "loans:publicity_board"):
        response = client_as(world.cadre).get(reverse(name), query)
        assert response.status_code == 200
        assert response.context["todo_filter"] is None
        assert "todo-filter" not in response.content.decode()


def test_the_folded_phone_menu_shows_how_many_items_wait(cadre_world, client_as):
    response = client_as(cadre_world.cadre).get(reverse("home"))
    badges = sum(item.count or 0 for item in response.context["nav_items"])
    assert badges > 0 and response.context["nav_waiting"] == badges
    button = re.search(r"<button[^>]*data-menu-toggle[^>]*>(.*?)</button>", response.content.decode(), re.S)
    assert button and re.search(rf'<span class="badge"[^>]*>{badges}</span>', button.group(1))


def test_nothing_waiting_no_badge_on_the_menu_button(world, client_as):
    response = client_as(world.county_office).get(reverse("home"))
    assert response.context["nav_waiting"] == 0
    button = re.search(r"<button[^>]*data-menu-toggle[^>]*>(.*?)</button>", response.content.decode(), re.S)
    assert button and "badge" not in button.group(1)
