"""The finance officer's quarter in the browser: create the batch, start the computation, watch
the progress move on its own while the chunks are computed, then review it; a colleague approves."""

import datetime
import re
from decimal import Decimal

import pytest
from django.test import override_settings
from playwright.sync_api import Page, expect

from accounts.models import Role
from loans.choices import UseMode
from loans.models import Loan, Settlement
from subsidies import services
from subsidies.models import BatchChunk, SubsidyBatch
from subsidies.workflow import State
from tests.conftest import World
from tests.factories import HouseholdFactory, UserFactory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

D = datetime.date


def _loans(world: World, count: int) -> None:
    for n in range(count):
        village = (world.v1a, world.v1b, world.v2a)[n % 3]
        household = HouseholdFactory(village=village, head__age=40)
        loan = Loan.objects.create(
            household=household,
            borrower=household.members.get(is_head=True),
            branch=world.br1,
            contract_no=f"B-{n:04d}",
            receipt_no=f"B-R-{n:04d}",
            account_no=f"6228480000{n:04d}",
            amount=Decimal("50000.00"),
            rate=Decimal("4.3500"),
            rate_basis="benchmark",
            term_months=36,
            disbursed_on=D(2025, 3, 20),
            maturity_on=D(2028, 3, 20),
            use_mode=UseMode.SELF,
            outstanding=Decimal("50000.00"),
            imported=True,
        )
        # 50000 × 4.35% × 92 / 360 = 555.83
        Settlement.objects.create(
            loan=loan,
            period_start=D(2025, 6, 20),
            period_end=D(2025, 9, 20),
            principal=loan.amount,
            rate=loan.rate,
            interest_due=Decimal("555.83"),
            interest_paid=Decimal("555.83"),
            paid_on=D(2025, 9, 20),
            source=Settlement.Source.MANUAL,
            recorded_by=world.officer,
        )


@override_settings(SUBSIDY_QUEUE="browser-test-nobody-listens", SUBSIDY_CHUNK_LOANS=2)
def test_finance_computes_watches_progress_and_reviews(page: Page, shot, monkeypatch):
    world = World()
    colleague = UserFactory(username="finance2", unit=world.county, roles=[Role.FINANCE])
    _loans(world, 6)
    monkeypatch.setattr(services, "_today", lambda: D(2025, 10, 10))

    log_in(page, "finance")
    page.goto("/subsidies/")
    expect(page.get_by_role("heading", name="贴息批次")).to_be_visible()
    page.select_option("select[name=year]", "2025")
    page.select_option("select[name=quarter]", "3")
    page.get_by_role("button", name="新建批次").click()
    expect(page.locator("h1")).to_contain_text("2025")
    shot("draft")

    # Computing: nobody consumes the queue, so the page waits at 0 % until the chunks run here.
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#progress-text")).to_contain_text("0")
    batch = SubsidyBatch.objects.get()
    assert batch.state == State.COMPUTING
    chunks = list(BatchChunk.objects.filter(batch=batch).values_list("pk", flat=True))
    assert len(chunks) == 3
    services.chunk_compute(chunk_id=chunks[0])
    services.batch_finish_if_done(batch_id=batch.pk)
    # The page follows by itself: a third of the loans, then the end.
    expect(page.locator("#progress-text")).to_contain_text("2", timeout=15_000)
    bar = page.locator("#progress-bar")
    expect(bar).to_have_attribute("style", re.compile(r"width: 33%"), timeout=15_000)
    shot("progress")
    for pk in chunks[1:]:
        services.chunk_compute(chunk_id=pk)
        services.batch_finish_if_done(batch_id=batch.pk)
    expect(page.locator(".card.stat .num").first).to_have_text("3,334.98", timeout=15_000)  # 6 × 555.83
    shot("computed")

    page.get_by_role("button", name="标记为已复核").click()
    expect(page.locator(".messages")).to_be_visible()
    expect(page.get_by_text("您计算了这个批次")).to_be_visible()
    assert not page.get_by_role("button", name="审批通过").count()

    page.get_by_role("button", name="退出").click()
    log_in(page, colleague.username)
    page.goto(f"/subsidies/{batch.pk}/")
    page.get_by_role("button", name="审批通过").click()
    expect(page.locator("h1 .tag")).to_have_text("已审批，待拨付")
    shot("approved")
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by_id) == (State.APPROVED, colleague.pk)
