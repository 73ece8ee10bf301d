"""The audit log on a phone (issue 14): app.css's phone rule gave every list cell a minimum width
of 6.5 em and outranked the changes column's 24 em, so the changes read a character a line and a
row stood 3,000–4,000 px tall. Up to 800 px each event is a card now, its changes as wide as the
card."""

import pytest
from playwright.sync_api import Page, expect

from core.audit import audit
from tests.conftest import World
from tests.factories import HouseholdFactory

from .conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_event_reads_as_a_card_at_390(page: Page):
    world = World()
    household = HouseholdFactory(village=world.v1a)
    member = {"id": 1, "name": "李飞", "relation": "head", "is_head": True, "phone": "19972984650"}
    audit(
        actor=world.county_office,
        action="household.create",
        obj=household,
        reason="演示数据",
        data={"registration_no": "4503992032040040", "members": 3, "added": [member, member, member]},
    )
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "admin", PASSWORD)
    page.goto("/audit/")
    row = page.locator("table.audit-table tbody tr").first
    expect(row).to_be_visible()
    cell = row.locator("td.audit-changes-cell")
    box, row_box = cell.bounding_box(), row.bounding_box()
    assert box["width"] >= 300, box
    assert row_box["height"] < 900, row_box
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
