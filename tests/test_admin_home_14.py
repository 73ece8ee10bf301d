"""Issue 14: the reference-data warnings on an administrator's home page are the administrator's
to-do lines (count 1 each, linked to where the data is entered); the to-do card never says
"暂无待办" while such a warning is shown."""

import re

import pytest
from django.urls import reverse

from tests.policies.test_reference_warnings import enter_lpr, store_2027


def todo_card(html: str) -> str:
    return html.split('aria-labelledby="todo-title"', 1)[1].split("</section>", 1)[0]


@pytest.mark.today("2026-11-01")
def test_missing_calendar_and_stale_lpr_are_the_admin_s_to_dos(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.admin)
    with django_assert_max_num_queries(14):
        html = client.get(reverse("home")).content.decode()
    card = todo_card(html)
    assert "暂无待办" not in card
    calendar = reverse("policies:calendar") + "#import-year"
    rates = reverse("policies:rate_list") + "#rate-form"
    one = '"><span class="todo-count[^"]*">1</span>'
    assert re.search(rf'href="{re.escape(calendar)}{one}.*?2027', card, re.S)
    assert re.search(rf'href="{re.escape(rates)}{one}.*?LPR', card, re.S)


@pytest.mark.today("2026-11-01")
def test_the_lines_go_once_the_data_is_entered(world, client_as):
    store_2027(world.admin)
    enter_lpr(world.admin, "2026-10-20")
    card = todo_card(client_as(world.admin).get(reverse("home")).content.decode())
    assert "#import-year" not in card and "#rate-form" not in card


@pytest.mark.today("2026-11-01")
def test_other_roles_get_no_reference_data_lines(world, client_as):
    card = todo_card(client_as(world.cadre).get(reverse("home")).content.decode())
    assert "#import-year" not in card and "#rate-form" not in card
