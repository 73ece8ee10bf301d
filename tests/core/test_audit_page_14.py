"""The audit log as people read it (issue 14): Chinese action names without the raw codes beside
them (rating.create, household.create, and the objection's step application.object, which had
none), amounts of money fields as 50,000.00, a reference to another row as #id, snapshots with
full-width colons and semicolons (名称：李飞；), in the page and the export."""

import pytest
from django.urls import reverse

from core.audit import ACTION_LABELS, audit, changes_text
from tests.factories import CreditRatingFactory, HouseholdFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(world):
    household = HouseholdFactory(village=world.v1a)
    rating = CreditRatingFactory(
        household=household, profile=world.profile, branch=world.br1, rated_by=world.officer
    )
    created = audit(
        actor=world.county_office,
        action="household.create",
        obj=household,
        reason="演示数据",
        data={
            "registration_no": "4503992032040040",
            "members": 1,
            "added": [{"id": 7, "name": "李飞", "relation": "head", "is_head": True, "phone": "19972984650"}],
        },
    )
    rated = audit(
        actor=world.officer,
        action="rating.create",
        obj=rating,
        data={"household": household.pk, "score": 89, "grade": "AAA", "credit_limit": "50000.00"},
    )
    changed = audit(
        actor=world.officer,
        action="rating.create",
        obj=rating,
        data={"changed": {"credit_limit": ["30000.00", "50000.00"]}},
    )
    objection = audit(actor=world.cadre, action="application.object", obj=household, data={})
    return household, created, rated, changed, objection


def test_page_reads_in_chinese(world, client_as, events):
    household, *_ = events
    html = client_as(world.admin).get(reverse("core:audit_log")).content.decode()
    assert "评级授信" in html and "新建贫困户" in html and "因异议退回村级审核" in html
    # The codes are not shown as text beside the names (only as a hover title).
    for code in ("rating.create", "household.create", "application.object"):
        assert f">{code}<" not in html
        assert f'<br><span class="muted">{code}' not in html
    # Money as banks print it, before and after.
    assert "50,000.00" in html and "30,000.00" in html
    assert "50000.00" not in html
    # A reference to the household, not a quantity of 600.
    assert f"#{household.pk}</dd>" in html
    # A member's snapshot with full-width punctuation.
    assert "名称：李飞；" in html
    assert "名称: 李飞;" not in html


def test_export_reads_the_same(events):
    _household, created, rated, changed, _objection = events
    assert "名称：李飞；" in changes_text(created)
    assert "50,000.00" in changes_text(rated)
    assert "30,000.00 → 50,000.00" in changes_text(changed)


def test_every_recorded_application_step_has_a_name():
    from loans.models import LoanApplication

    names = {t.name for t in LoanApplication._meta.get_field("state").get_all_transitions(LoanApplication)}
    assert {n for n in names if f"application.{n}" not in ACTION_LABELS} == set()
