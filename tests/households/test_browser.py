"""The two bits of inline JavaScript, driven in headless Chromium: "add member" on the household
form and the rating page's live preview."""

import os

import pytest
from django.db import connections
from django.urls import reverse

from households.models import Household
from tests.factories import HouseholdFactory, unique_id_number

# serialized_rollback: the roles created by a data migration survive the table flushes.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are
# still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Chromium is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        yield browser.new_page()
        browser.close()
        # The test's ORM calls ran while Playwright's greenlet was active, which gives them a
        # connection of their own; close it here or the test database cannot be dropped.
        connections.close_all()


def login(page, live_server, user):
    user.set_password("pass12345")
    user.save()
    page.goto(live_server.url + reverse("accounts:login"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pass12345")
    page.click("button[type=submit]")


def test_add_member_adds_a_row_that_is_saved(world, live_server, page):
    login(page, live_server, world.cadre)
    page.goto(live_server.url + reverse("households:create"))
    assert page.locator(".member-form").count() == 2
    page.click("#add-member")
    assert page.locator(".member-form").count() == 3
    assert page.input_value("#id_members-TOTAL_FORMS") == "3"
    page.fill("input[name=registration_no]", "450312-JS-1")
    page.select_option("select[name=village]", str(world.v1a.pk))
    rows = [("韦小宝", "head", True), ("韦双儿", "spouse", False), ("韦虎头", "child", False)]
    for i, (name, relation, head) in enumerate(rows):
        page.fill(f"input[name=members-{i}-name]", name)
        page.fill(f"input[name=members-{i}-id_number]", unique_id_number(30))
        page.select_option(f"select[name=members-{i}-relation]", relation)
        if head:
            page.check(f"input[name=members-{i}-is_head]")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/households/*/")
    household = Household.objects.get(registration_no="450312-JS-1")
    assert sorted(household.members.values_list("name", flat=True)) == ["韦双儿", "韦小宝", "韦虎头"]


def test_rating_preview_follows_the_bands(world, live_server, page):
    home = HouseholdFactory(village=world.v1a)
    login(page, live_server, world.officer)
    page.goto(live_server.url + reverse("households:rate", args=[home.pk]))
    scores = {
        "score_integrity": 25,
        "score_labour": 15,
        "score_income": 15,
        "score_project": 10,
        "score_assets": 4,
    }
    for name, value in scores.items():
        page.fill(f"input[name={name}]", str(value))
    assert page.text_content("[data-preview=total]") == "69"
    assert page.text_content("[data-preview=grade]") == "A"
    assert page.text_content("[data-preview=line]") == "10,000.00"
    page.fill("input[name=score_assets]", "5")
    assert page.text_content("[data-preview=grade]") == "AA"
    page.fill("input[name=score_integrity]", "0")
    assert page.text_content("[data-preview=total]") == "45"
    assert page.text_content("[data-preview=line]") in ("不授信", "no credit line")  # not "0.00"


def test_exit_date_shows_only_for_an_exited_household(world, live_server, page):
    login(page, live_server, world.cadre)
    page.goto(live_server.url + reverse("households:create"))
    assert not page.is_visible("#id_exited_on")
    page.select_option("select[name=poverty_status]", "exited")
    assert page.is_visible("#id_exited_on") and page.is_enabled("#id_exited_on")
    page.fill("#id_exited_on", "2020-12-01")
    page.select_option("select[name=poverty_status]", "not_exited")
    # Hidden and disabled, so a date typed before changing the status is not sent.
    assert not page.is_visible("#id_exited_on") and page.is_disabled("#id_exited_on")


def test_relation_head_and_the_head_box_stay_in_step(world, live_server, page):
    login(page, live_server, world.cadre)
    page.goto(live_server.url + reverse("households:create"))
    page.select_option("select[name=members-0-relation]", "head")
    assert page.is_checked("input[name=members-0-is_head]")
    page.check("input[name=members-1-is_head]")
    assert page.input_value("select[name=members-1-relation]") == "head"
    page.select_option("select[name=members-1-relation]", "spouse")
    assert not page.is_checked("input[name=members-1-is_head]")
