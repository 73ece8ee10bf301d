"""The page shell (templates/base.html, issue 14): the menu's button for phones, the labelled
group of the risk-compensation fund, the to-do counts as badges. The browser side (the button
opens the menu, every page fits 390 px) is tests/browser/test_widths.py."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_menu_has_a_button_for_phones_that_controls_it(world, client_as):
    html = client_as(world.cadre).get("/").content.decode()
    button = re.search(r"<button[^>]*data-menu-toggle[^>]*>([^<]*)</button>", html)
    assert button, "no menu button"
    assert 'type="button"' in button.group(0)
    assert 'aria-controls="topmenu"' in button.group(0) and 'aria-expanded="false"' in button.group(0)
    assert button.group(1).strip() == "菜单"
    assert 'id="topmenu"' in html
    # The menu and the account links are inside the panel the button opens.
    panel = html[html.index('id="topmenu"') : html.index("</header>")]
    assert 'class="mainnav"' in panel and 'class="whoami"' in panel
    # Without JavaScript the menu is shown open (CSP: a stylesheet, no inline style or script).
    assert re.search(r"<noscript><link rel=\"stylesheet\" href=\"/static/css/nojs.css\"></noscript>", html)
    assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_the_fund_is_a_labelled_group_of_the_menu(world, client_as):
    html = client_as(world.finance).get("/").content.decode()
    group = re.search(
        r'<div class="navgroup" role="group" aria-labelledby="(navgroup-\d+)">'
        r'<span class="navgroup-label" id="\1">([^<]*)</span>(.*?)</div>',
        html,
        re.S,
    )
    assert group, "the fund's links are not a labelled group"
    assert group.group(2) == "风险补偿金"  # its name, no colon
    assert group.group(3).count("<a ") == 3
    assert "/riskfund/funds/" in group.group(3) and "/riskfund/claims/" in group.group(3)


def test_the_current_page_is_marked_for_assistive_technology(world, client_as):
    html = client_as(world.cadre).get("/households/").content.decode()
    assert re.search(r'<a href="/households/" class="active" aria-current="page">', html)
