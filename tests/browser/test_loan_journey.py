"""A loan from application to disbursement in the browser, each step by the person whose step it
is: the village cadre applies (the live eligibility panel refuses house building, then accepts a
productive purpose), submits and passes village review; the notices run their five working days
(the daily task, called here directly); the branch's loan officer investigates and accepts with
a photo; the approver approves; the officer disburses. The application page then shows the loan
and every step in its history."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from accounts.models import Role
from households.models import CreditRating, Member
from loans.models import Loan, LoanApplication, PublicityNotice
from loans.services import applications
from loans.workflow import State
from policies.models import CalendarYear
from policies.services import calendar_year_define
from tests.factories import (
    BankFactory,
    BranchFactory,
    CountyFactory,
    CreditRatingFactory,
    HouseholdFactory,
    MemberFactory,
    PolicyProfileFactory,
    RiskFundFactory,
    TownshipFactory,
    UserFactory,
    VillageFactory,
)

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CONTRACT_NO, RECEIPT_NO = "2026HT0101", "2026JJ0101"


class County:
    """A corner of a demo-like county: one village with an AAA-rated household, the branch that
    serves its township, and the cadre, loan officer and approver who handle its loans."""

    def __init__(self):
        today = timezone.localdate()
        county = CountyFactory(name="示范县", code="450399")
        township = TownshipFactory(parent=county, name="青山镇", code="450399101")
        self.village = VillageFactory(parent=township, name="青山村", code="450399101201")
        bank = BankFactory(name="示范县农村商业银行", code="SFRCB")
        self.branch = BranchFactory(parent=bank, name="青山支行", code="SFRCB-01")
        self.branch.served_townships.set([township])
        self.profile = PolicyProfileFactory(county=county, name="示范县扶贫小额信贷政策")
        RiskFundFactory(county=county, bank=bank, deposit="1000000.00")
        self.cadre = UserFactory(
            username="cadre", name="王建国", unit=self.village, roles=[Role.VILLAGE_CADRE]
        )
        self.officer = UserFactory(
            username="officer", name="黄晓明", unit=self.branch, roles=[Role.LOAN_OFFICER]
        )
        self.approver = UserFactory(
            username="approver", name="林文斌", unit=self.branch, roles=[Role.APPROVER]
        )
        self.admin = UserFactory(username="admin", name="何静", unit=county, roles=[Role.ADMIN])

        self.household = HouseholdFactory(
            registration_no="4503991012010007",
            village=self.village,
            head=False,
            business="养殖肉牛",
            address="青山镇青山村三组12号",
        )
        self.head = MemberFactory(
            household=self.household,
            name="韦志军",
            relation=Member.Relation.HEAD,
            is_head=True,
            age=42,
            labour_capacity=Member.Labour.FULL,
        )
        MemberFactory(household=self.household, name="覃美玲", age=40, labour_capacity=Member.Labour.FULL)
        CreditRatingFactory(
            household=self.household,
            profile=self.profile,
            branch=self.branch,
            rated_by=self.officer,
            grade=CreditRating.Grade.AAA,
            credit_limit=Decimal("50000.00"),
            valid_from=today - datetime.timedelta(days=60),
            valid_to=today + datetime.timedelta(days=300),
        )
        self.calendar_ahead(today.year)

    def calendar_ahead(self, this_year: int) -> None:
        """Notices posted today may end next year, and the seeded calendar stops at 2026: enter a
        missing year as an administrator would (weekends and New Year's Day only)."""
        for year in (this_year, this_year + 1):
            if not CalendarYear.objects.filter(year=year).exists():
                calendar_year_define(
                    acting_user=self.admin,
                    year=year,
                    holidays=[(datetime.date(year, 1, 1), datetime.date(year, 1, 1), "元旦")],
                    workdays=[],
                    source="test calendar",
                )


@pytest.fixture
def county() -> County:
    return County()


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (90, 140, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


def rule(page: Page, code: str):
    return page.locator(f'#eligibility-panel tr[data-rule="{code}"]')


def switch_user(page: Page, username: str) -> None:
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    log_in(page, username)
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def test_a_loan_from_application_to_disbursement(page: Page, county, shot):
    today = timezone.localdate()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The cadre opens the household and starts an application.
    log_in(page, "cadre")
    page.goto(f"/households/{county.household.pk}/")
    shot("household")
    page.get_by_role("link", name="新建贷款申请").click()
    expect(page).to_have_url(re.compile(rf"/loans/new/{county.household.pk}/$"))
    expect(page.locator("h1")).to_have_text("新建贷款申请")
    expect(page.locator("select[name=borrower]")).to_have_value(str(county.head.pk))

    page.fill("input[name=amount]", "30000")
    page.fill("input[name=term_months]", "24")
    # House building is in the list, so the cadre is told why it cannot be lent for.
    page.select_option("select[name=purpose_category]", "house_building")
    expect(rule(page, "forbidden_purpose").locator(".mark-bad")).to_be_visible()
    expect(rule(page, "forbidden_purpose")).to_contain_text("该用途被禁止")
    expect(page.locator('[data-hints-for="purpose_category"]')).to_contain_text("该用途被禁止")
    expect(page.locator("#eligibility-panel .verdict.bad")).to_be_visible()
    shot("form-forbidden-purpose")

    page.select_option("select[name=purpose_category]", "breeding")
    page.fill("textarea[name=purpose_detail]", "购买西门塔尔肉牛5头，扩建牛棚。")
    page.fill("input[name=bank_account_no]", "6230520112345678901")
    page.check("input[name=capacity_attested]")
    page.check("input[name=consent_publicity]")
    page.check("input[name=consent_credit_query]")
    expect(page.locator("#eligibility-panel .verdict.ok")).to_be_visible()
    for code in ("productive_purpose", "forbidden_purpose", "valid_rating", "credit_line", "age_range"):
        expect(rule(page, code).locator(".mark-ok")).to_be_visible()
    expect(page.locator("#eligibility-panel .mark-bad")).to_have_count(0)
    expect(page.locator('[data-hints-for="purpose_category"]')).to_be_empty()
    shot("form-eligible")

    page.get_by_role("button", name="保存并提交村级审核").click()
    expect(page).to_have_url(re.compile(r"/loans/\d+/$"))
    app = LoanApplication.objects.get(household=county.household)
    assert (app.state, app.amount, app.purpose_category) == (
        State.VILLAGE_REVIEW,
        Decimal("30000.00"),
        "breeding",
    )
    expect(page.locator("h1 .tag")).to_have_text("村级审核")
    shot("submitted")

    # Village review passes: the notices go up at village, township and county level.
    page.locator("#step-village_approve").get_by_role("button", name="村级审核通过，开始公示").click()
    expect(page.locator("h1 .tag")).to_have_text("公示中")
    notices = list(app.notices.order_by("level"))
    assert len(notices) == 3 and {n.status for n in notices} == {PublicityNotice.Status.RUNNING}
    end = notices[0].end_on
    assert all(n.start_on == today and n.end_on == end and n.working_days == 5 for n in notices)
    rows = page.locator("h2:text-is('公示') + table tbody tr")
    expect(rows).to_have_count(3)
    for row in rows.all():
        expect(row).to_contain_text(end.isoformat())
        expect(row.locator(".tag")).to_have_text("公示中")
    shot("publicity")

    # The daily task, the night after the last day: every level ended without objection.
    assert applications.publicity_end_due(on_date=end) == []
    assert applications.publicity_end_due(on_date=end + datetime.timedelta(days=1)) == [app.pk]

    # The branch's loan officer finds it in the acceptance queue and investigates.
    switch_user(page, "officer")
    page.goto("/loans/acceptance/")
    row = page.locator("table.list tbody tr", has=page.get_by_role("link", name=f"#{app.pk}"))
    expect(row).to_contain_text("韦志军")
    shot("acceptance-queue")
    row.get_by_role("link", name="贷前调查并受理").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/accept/$"))
    expect(page.locator("input[name=investigated_on]")).to_have_value(today.isoformat())
    page.fill(
        "textarea[name=findings]",
        "实地查看牛棚，已建成约60平方米，饲草储备充足；申请人有5年养牛经验，无他行贷款。",
    )
    page.set_input_files(
        "input[name=photos]", files=[{"name": "cowshed.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.fill("input[name=caption]", "牛棚外景")
    shot("accept-form")
    page.get_by_role("button", name="受理并登记贷前调查").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/$"))
    expect(page.locator("h1 .tag")).to_have_text("待审查审批")
    photo = page.locator(".photos img")
    expect(photo).to_have_count(1)
    # The photo is served through the application's scope, and it is the picture uploaded.
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    assert photo.evaluate("img => img.naturalWidth") == 24
    shot("accepted")

    # The approver, who did not investigate, approves from the approval queue.
    switch_user(page, "approver")
    page.goto("/loans/approval/")
    row = page.locator("table.list tbody tr", has=page.get_by_role("link", name=f"#{app.pk}"))
    expect(row).to_contain_text("黄晓明")
    shot("approval-queue")
    row.get_by_role("link", name="审查审批").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/approve/$"))
    expect(page.locator("input[name=amount]")).to_have_value("30000.00")
    expect(page.locator("input[name=term_months]")).to_have_value("24")
    expect(page.locator("#rate-now")).to_contain_text("%")
    expect(page.locator(".photos img")).to_have_count(1)
    shot("approve-form")
    page.get_by_role("button", name="审批通过").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/$"))
    expect(page.locator("h1 .tag")).to_have_text("已审批待发放")
    shot("approved")

    # The officer signs the contract and the receipt with the borrower and disburses.
    switch_user(page, "officer")
    page.goto("/loans/disbursement/")
    row = page.locator("table.list tbody tr", has=page.get_by_role("link", name=f"#{app.pk}"))
    shot("disbursement-queue")
    row.get_by_role("link", name="发放贷款").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/disburse/$"))
    maturity = today + relativedelta(months=24)
    expect(page.locator("#maturity")).to_have_text(maturity.isoformat())
    page.fill("input[name=contract_no]", CONTRACT_NO)
    page.fill("input[name=receipt_no]", RECEIPT_NO)
    shot("disburse-form")
    page.get_by_role("button", name="发放贷款").click()
    expect(page).to_have_url(re.compile(rf"/loans/{app.pk}/$"))
    expect(page.locator("h1 .tag")).to_have_text("已发放")
    loan_card = page.locator("h2:text-is('贷款') + .card")
    expect(loan_card).to_contain_text(CONTRACT_NO)
    expect(loan_card).to_contain_text(RECEIPT_NO)
    expect(loan_card).to_contain_text(maturity.isoformat())
    expect(loan_card).to_contain_text("30,000.00")

    # Every step is in the history, with who took it.
    steps = page.locator("ul.timeline > li")
    expect(steps).to_have_count(6)
    expected = [
        ("村级审核", "王建国"),
        ("公示中", "王建国"),
        ("待银行受理", "系统"),
        ("待审查审批", "黄晓明"),
        ("已审批待发放", "林文斌"),
        ("已发放", "黄晓明"),
    ]
    for item, (state, who) in zip(steps.all(), expected, strict=True):
        expect(item.locator("strong")).to_contain_text(f"→ {state}")
        expect(item.locator(".when")).to_contain_text(who)
    shot("disbursed")

    loan = Loan.objects.get(application=app)
    assert (loan.contract_no, loan.receipt_no) == (CONTRACT_NO, RECEIPT_NO)
    assert loan.amount == loan.outstanding == Decimal("30000.00")
    assert (loan.disbursed_on, loan.maturity_on, loan.disbursed_by) == (today, maturity, county.officer)
    app.refresh_from_db()
    assert (app.investigated_by, app.approved_by) == (county.officer, county.approver)
    assert app.photos.count() == 1
    assert not errors, errors
