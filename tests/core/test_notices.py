"""Notices for every role (issue 14): an application sent back tells its village's cadres, an
objection the village's cadres and the township's officers, an application returned by the
approver the branch's loan officers, a computed subsidy batch the county's finance staff (the
notice follows the batch: "computed", not "being computed"). Opening a notice's link marks it
read for that user and leads only to a page of this site; it can still be dismissed; nobody
sees or opens a notice addressed to another role or unit."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from accounts.models import Role
from core.models import Notice
from loans.services import applications
from loans.workflow import State
from subsidies import services as subsidy_services
from subsidies.models import SubsidyBatch
from tests.factories import UserFactory
from tests.test_home_todo import app_in, in_publicity


def home(client) -> str:
    return client.get(reverse("home")).content.decode()


def test_sent_back_tells_the_cadres_of_the_village(world, client_as):
    app = app_in(world, State.VILLAGE_REVIEW, last_step="submit")
    applications.application_send_back(acting_user=world.cadre, application=app, comment="补充项目说明")
    notice = Notice.objects.get()
    assert (notice.unit, notice.role) == (world.v1a, Role.VILLAGE_CADRE)
    assert notice.url == reverse("loans:application_detail", args=[app.pk])
    assert f"申请 #{app.pk}" in notice.title and "已被退回修改" in notice.title
    assert notice.body == "补充项目说明"
    colleague = UserFactory(username="cadre_v1a_2", unit=world.v1a, roles=[Role.VILLAGE_CADRE])
    assert notice.title in home(client_as(colleague))
    other_village = UserFactory(username="cadre_v1b", unit=world.v1b, roles=[Role.VILLAGE_CADRE])
    assert notice.title not in home(client_as(other_village))
    assert notice.title not in home(client_as(world.township_officer))


def test_objection_tells_the_cadres_and_the_township(world, client_as):
    app = in_publicity(world, datetime.date(2026, 6, 19))
    applications.objection_lodge(
        acting_user=world.township_officer, application=app, text="申请人家中另有货车", objector="村民甲"
    )
    assert set(Notice.objects.values_list("unit", "role")) == {
        (world.v1a.pk, Role.VILLAGE_CADRE),
        (world.t1.pk, Role.TOWNSHIP_OFFICER),
    }
    title = Notice.objects.first().title
    assert "收到异议" in title
    assert title in home(client_as(world.cadre))
    assert title in home(client_as(world.township_officer))
    assert title not in home(client_as(world.county_office))
    other_township = UserFactory(username="township_t2", unit=world.t2, roles=[Role.TOWNSHIP_OFFICER])
    assert title not in home(client_as(other_township))


def test_returned_to_the_officer_tells_the_branch(world, client_as):
    app = app_in(world, State.BANK_APPROVAL, last_step="accept", investigated_by=world.officer)
    applications.application_return_to_officer(
        acting_user=world.approver, application=app, comment="补充流水"
    )
    notice = Notice.objects.get()
    assert (notice.unit, notice.role) == (world.br1, Role.LOAN_OFFICER)
    assert notice.title in home(client_as(world.officer))
    assert notice.title not in home(client_as(world.approver))


def test_opening_a_notice_marks_it_read_and_leads_to_its_page(world, client_as):
    app = app_in(world, State.VILLAGE_REVIEW, last_step="submit")
    applications.application_send_back(acting_user=world.cadre, application=app, comment="补充项目说明")
    notice = Notice.objects.get()
    client = client_as(world.cadre)
    page = client.get(reverse("home"))
    opened = reverse("accounts:notice_open", args=[notice.pk])
    assert opened in page.content.decode()
    assert [n.is_read for n in page.context["notices"]] == [False]

    response = client.get(opened)
    assert response.status_code == 302 and response.url == notice.url
    assert list(notice.read_by.all()) == [world.cadre]
    page = client.get(reverse("home"))
    assert [n.is_read for n in page.context["notices"]] == [True]
    assert "notice-read" in page.content.decode()
    # Read for this user only.
    colleague = UserFactory(username="cadre_v1a_2", unit=world.v1a, roles=[Role.VILLAGE_CADRE])
    assert [n.is_read for n in client_as(colleague).get(reverse("home")).context["notices"]] == [False]
    # And still dismissed like any other.
    client = client_as(world.cadre)
    assert client.post(reverse("accounts:notice_dismiss", args=[notice.pk])).status_code == 302
    assert client.get(reverse("home")).context["notices"] == []


def test_nobody_opens_a_notice_addressed_elsewhere(world, client_as):
    notice = Notice.objects.create(unit=world.v1a, role=Role.VILLAGE_CADRE, title="x", url="/loans/")
    for user in (world.township_officer, world.other_cadre, world.officer):
        assert client_as(user).get(reverse("accounts:notice_open", args=[notice.pk])).status_code == 404
    assert not notice.read_by.exists()


@pytest.mark.parametrize("url", ["https://example.com/", "//example.com/x", "/\\example.com", "javascript:x"])
def test_a_notice_leads_only_to_a_page_of_this_site(world, client_as, url):
    notice = Notice.objects.create(unit=world.v1a, role=Role.VILLAGE_CADRE, title="x", url=url)
    response = client_as(world.cadre).get(reverse("accounts:notice_open", args=[notice.pk]))
    assert response.status_code == 302 and response.url == reverse("home")


@pytest.mark.today("2025-10-09")
def test_the_finance_notice_follows_the_batch(world, client_as):
    """The quarterly run posts "being computed" and computes; a county without loans is computed
    at once, and the notice then says so (it said "正在计算" for ever before issue 14). It goes on
    following the batch: reviewed, approved, and gone once paid."""
    created = subsidy_services.quarterly_batches_ensure(on_date=datetime.date(2025, 10, 9))
    batch = SubsidyBatch.objects.get(county=world.county)
    assert batch.pk in created and batch.state == "computed"
    notice = Notice.objects.get(unit=world.county, role=Role.FINANCE)
    assert notice.url == reverse("subsidies:batch_detail", args=[batch.pk])
    assert "已计算完成" in notice.title and "正在计算" not in notice.title
    html = home(client_as(world.finance))
    assert notice.title in html and "正在计算" not in html
    # One notice for the batch, however many times it is computed.
    batch = subsidy_services.batch_compute(acting_user=world.finance, batch=batch)
    assert Notice.objects.filter(unit=world.county, role=Role.FINANCE).count() == 1

    def title() -> str:
        return Notice.objects.get(unit=world.county, role=Role.FINANCE).title

    batch = subsidy_services.batch_review(acting_user=world.finance, batch=batch)
    assert "已复核" in title() and "待审批" in title()
    colleague = UserFactory(username="finance_b", unit=world.county, roles=[Role.FINANCE])
    batch = subsidy_services.batch_approve(acting_user=colleague, batch=batch)
    assert "已审批" in title() and "待支付" in title()
    subsidy_services.batch_pay(acting_user=world.finance, batch=batch, paid_on=datetime.date(2025, 10, 9))
    assert not Notice.objects.filter(unit=world.county, role=Role.FINANCE).exists()
    # The other county's batch and notice are its own.
    assert Notice.objects.filter(unit=world.other_county, role=Role.FINANCE).count() == 1
