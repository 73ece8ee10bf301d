"""The batch pages: list and creation, the batch with its steps, totals and exclusions, the lines
with their filters, live progress, and the finance dashboard notice."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from core.models import Notice
from subsidies import services
from subsidies.models import SubsidyBatch
from subsidies.workflow import State
from tests.factories import HouseholdFactory, UserFactory

D = datetime.date


@pytest.fixture
def q3_batch(world, make_loan, settle, compute_now, after_q3):
    """County A's 2025 Q3 batch, computed by `finance`: two subsidized loans in V1a and V2a, one
    unpaid settlement in V1b, and an open loan in V1a with no settlement."""
    v1a = make_loan()
    settle(v1a, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=D(2025, 9, 20))
    v2a = make_loan(village=world.v2a, amount="20000.00")
    # 20000 × 4.35% × 92 / 360 = 222.333… → 222.33
    settle(v2a, D(2025, 6, 20), D(2025, 9, 20), interest_due="222.33", paid_on=D(2025, 9, 21))
    v1b = make_loan(village=world.v1b)
    settle(v1b, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=None)
    make_loan(disbursed_on=D(2025, 9, 25))
    return compute_now()


def test_list_offers_a_new_batch_to_finance_only(world, client_as, q3_batch):
    page = client_as(world.finance).get(reverse("subsidies:batch_list"))
    assert page.status_code == 200
    assert reverse("subsidies:batch_create") in page.content.decode()
    assert reverse("subsidies:batch_detail", args=[q3_batch.pk]) in page.content.decode()

    page = client_as(world.county_office).get(reverse("subsidies:batch_list"))
    assert reverse("subsidies:batch_detail", args=[q3_batch.pk]) in page.content.decode()
    assert reverse("subsidies:batch_create") not in page.content.decode()


def test_create_refuses_a_quarter_not_over_next_to_the_field(world, client_as, after_q3):
    client = client_as(world.finance)
    page = client.post(reverse("subsidies:batch_create"), {"year": 2025, "quarter": 4})
    assert page.status_code == 400
    assert "不是已结束的季度" in page.content.decode() or "尚未结束" in page.content.decode()
    assert not SubsidyBatch.objects.exists()

    page = client.post(reverse("subsidies:batch_create"), {"year": 2025, "quarter": 3})
    batch = SubsidyBatch.objects.get()
    assert page.status_code == 302 and page["Location"] == reverse("subsidies:batch_detail", args=[batch.pk])
    assert (batch.county, batch.year, batch.quarter, batch.state) == (world.county, 2025, 3, State.DRAFT)


def test_other_county_sees_nothing(world, client_as, q3_batch):
    stranger = UserFactory(username="finz", unit=world.other_county, roles=[Role.FINANCE])
    client = client_as(stranger)
    assert client.get(reverse("subsidies:batch_detail", args=[q3_batch.pk])).status_code == 404
    assert client.get(reverse("subsidies:batch_lines", args=[q3_batch.pk])).status_code == 404
    assert client.get(reverse("subsidies:batch_progress", args=[q3_batch.pk])).status_code == 404
    assert (
        reverse("subsidies:batch_detail", args=[q3_batch.pk])
        not in client.get(reverse("subsidies:batch_list")).content.decode()
    )


def test_detail_shows_totals_by_township_and_village_and_reasons(world, client_as, q3_batch):
    page = client_as(world.finance).get(reverse("subsidies:batch_detail", args=[q3_batch.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert q3_batch.total == Decimal("778.16")  # 555.83 + 222.33
    assert "778.16" in text
    for name in ("五通镇", "两江镇", "五通村", "两江村", "茶洞村"):
        assert name in text
    # The exclusions by reason, each linking to the lines with that reason.
    assert "?reason=unpaid" in text and "?reason=no_settlement" in text
    # The steps finance may take on a computed batch.
    for name in ("review", "compute", "cancel"):
        assert reverse("subsidies:batch_step", args=[q3_batch.pk, name]) in text
    assert reverse("subsidies:batch_step", args=[q3_batch.pk, "approve"]) not in text


def test_detail_queries_do_not_grow_with_lines(
    world, client_as, make_loan, settle, compute_now, after_q3, django_assert_max_num_queries
):
    for village in (world.v1a, world.v1b, world.v2a):
        for _ in range(8):
            loan = make_loan(village=village, amount="10000.00")
            settle(loan, D(2025, 6, 20), D(2025, 9, 20), interest_due="111.17", paid_on=D(2025, 9, 20))
    batch = compute_now()
    assert batch.line_count == 24
    client = client_as(world.finance)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("subsidies:batch_detail", args=[batch.pk])).status_code == 200
    with django_assert_max_num_queries(12):
        page = client.get(reverse("subsidies:batch_lines", args=[batch.pk]))
    assert page.status_code == 200
    assert page.content.decode().count("111.17") >= 24


def test_lines_filter_and_village_scope(world, client_as, q3_batch):
    client = client_as(world.finance)
    url = reverse("subsidies:batch_lines", args=[q3_batch.pk])
    unpaid = client.get(url, {"reason": "unpaid"}).content.decode()
    assert "茶洞村" in unpaid and "555.83" not in unpaid.split("<tbody>")[1]
    subsidized = client.get(url, {"reason": "subsidized"}).content.decode().split("<tbody>")[1]
    assert "555.83" in subsidized and "222.33" in subsidized
    by_village = client.get(url, {"village": world.v2a.pk}).content.decode().split("<tbody>")[1]
    assert "222.33" in by_village and "555.83" not in by_village

    # The cadre of V1a sees the county's batch but only the village's lines.
    cadre_page = client_as(world.cadre).get(url).content.decode().split("<tbody>")[1]
    assert "五通村" in cadre_page and "两江村" not in cadre_page and "茶洞村" not in cadre_page


def test_steps_through_the_pages_with_four_eyes(world, client_as, finance2, q3_batch):
    client = client_as(world.finance)
    step = lambda name: reverse("subsidies:batch_step", args=[q3_batch.pk, name])  # noqa: E731
    assert client.post(step("review"), {"review-comment": "核对无误"}).status_code == 302
    q3_batch.refresh_from_db()
    assert q3_batch.state == State.REVIEWED and q3_batch.reviewed_by == world.finance

    # The computing officer is told why they may not approve; nothing changes.
    page = client.get(reverse("subsidies:batch_detail", args=[q3_batch.pk]))
    assert (
        "four-eyes" in page.content.decode()
        or "双人" in page.content.decode()
        or "四眼" in page.content.decode()
    )
    response = client.post(step("approve"), {"approve-comment": ""}, follow=True)
    q3_batch.refresh_from_db()
    assert q3_batch.state == State.REVIEWED
    assert any("four" in str(m).lower() or "计算" in str(m) for m in response.context["messages"])

    client = client_as(finance2)
    assert client.post(step("approve"), {"approve-comment": "同意"}).status_code == 302
    q3_batch.refresh_from_db()
    assert (q3_batch.state, q3_batch.approved_by) == (State.APPROVED, finance2)

    # Payment needs its date; a missing one is reported next to the field.
    page = client.post(step("pay"), {"pay-paid_on": "", "pay-reference": "CZ-1"})
    assert page.status_code == 400
    assert 'id="id_pay-paid_on"' in page.content.decode()
    q3_batch.refresh_from_db()
    assert q3_batch.state == State.APPROVED
    assert client.post(step("pay"), {"pay-paid_on": "2025-10-10", "pay-reference": "CZ-1"}).status_code == 302
    q3_batch.refresh_from_db()
    assert (q3_batch.state, q3_batch.paid_on, q3_batch.payment_reference) == (
        State.PAID,
        D(2025, 10, 10),
        "CZ-1",
    )


def test_cancel_needs_a_reason(world, client_as, q3_batch):
    client = client_as(world.finance)
    url = reverse("subsidies:batch_step", args=[q3_batch.pk, "cancel"])
    page = client.post(url, {"cancel-reason": "  "})
    assert page.status_code == 400
    q3_batch.refresh_from_db()
    assert q3_batch.state == State.COMPUTED
    assert client.post(url, {"cancel-reason": "结息清单有误，重算"}).status_code == 302
    q3_batch.refresh_from_db()
    assert (q3_batch.state, q3_batch.cancel_reason) == (State.CANCELLED, "结息清单有误，重算")


def test_progress_json(world, client_as, q3_batch):
    data = client_as(world.finance).get(reverse("subsidies:batch_progress", args=[q3_batch.pk])).json()
    assert data["state"] == State.COMPUTED
    assert data["done"] == data["total"] == 4 and data["percent"] == 100


def test_computing_page_shows_progress(world, client_as, make_loan, after_q3, settings):
    make_loan()
    settings.SUBSIDY_QUEUE = "nobody-listens-here"
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    services.batch_compute(acting_user=world.finance, batch=batch)
    page = client_as(world.finance).get(reverse("subsidies:batch_detail", args=[batch.pk]))
    text = page.content.decode()
    assert 'role="progressbar"' in text and reverse("subsidies:batch_progress", args=[batch.pk]) in text
    assert reverse("subsidies:batch_step", args=[batch.pk, "resume"]) in text


def test_notice_on_the_finance_dashboard(world, client_as):
    notice = Notice.objects.create(
        unit=world.county, role=Role.FINANCE, title="2025 Q3 贴息批次已开始计算", url="/subsidies/1/"
    )
    assert "2025 Q3 贴息批次已开始计算" in client_as(world.finance).get(reverse("home")).content.decode()
    assert (
        "2025 Q3 贴息批次已开始计算"
        not in client_as(world.county_office).get(reverse("home")).content.decode()
    )

    # Someone the notice is not addressed to cannot dismiss it, nor learn that it exists.
    outsider = client_as(world.county_office).post(reverse("accounts:notice_dismiss", args=[notice.pk]))
    assert outsider.status_code == 404
    assert not notice.dismissed_by.exists()

    client = client_as(world.finance)
    assert client.post(reverse("accounts:notice_dismiss", args=[notice.pk])).status_code == 302
    assert "2025 Q3 贴息批次已开始计算" not in client.get(reverse("home")).content.decode()
    # Dismissed for this user only.
    colleague = UserFactory(username="fin-b", unit=world.county, roles=[Role.FINANCE])
    assert "2025 Q3 贴息批次已开始计算" in client_as(colleague).get(reverse("home")).content.decode()


def test_exited_household_still_listed_with_subsidy(
    world, client_as, make_loan, settle, compute_now, after_q3
):
    household = HouseholdFactory(village=world.v1a, head__age=40, poverty_status="exited")
    loan = make_loan(household=household)
    settle(loan, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=D(2025, 9, 20))
    batch = compute_now()
    page = client_as(world.finance).get(
        reverse("subsidies:batch_lines", args=[batch.pk]), {"reason": "subsidized"}
    )
    assert loan.contract_no in page.content.decode()
