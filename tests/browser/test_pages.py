"""A village cadre's day in the browser: log in, find a household by name and by ID number,
open it, and enter a new household, correcting a mistyped ID number on the way."""

import datetime
import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from households import idnumbers
from households.models import Household, Member
from tests.factories import (
    CountyFactory,
    HouseholdFactory,
    MemberFactory,
    TownshipFactory,
    UserFactory,
    VillageFactory,
    id_number,
)

from .conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CJK = re.compile(r"[\u4e00-\u9fff]")


class Village:
    """A demo-like corner of a county: the cadre's village with two households, and a
    household of the same head's name in a village of another township, out of the cadre's sight."""

    def __init__(self):
        county = CountyFactory(name="示范县", code="450399")
        township = TownshipFactory(parent=county, name="青山镇", code="450399101")
        other_township = TownshipFactory(parent=county, name="石桥镇", code="450399102")
        self.village = VillageFactory(parent=township, name="青山村", code="450399101201")
        other_village = VillageFactory(parent=other_township, name="石桥村", code="450399102201")
        self.cadre = UserFactory(
            username="cadre", name="王建国", unit=self.village, roles=[Role.VILLAGE_CADRE]
        )

        self.head_number = id_number(datetime.date(1978, 3, 8), seq=124, area="450399")
        self.household = HouseholdFactory(
            registration_no="4503991012010001", village=self.village, head=False
        )
        MemberFactory(
            household=self.household,
            name="韦秀兰",
            id_number=self.head_number,
            relation=Member.Relation.HEAD,
            is_head=True,
        )
        MemberFactory(
            household=self.household,
            name="覃德明",
            id_number=id_number(datetime.date(1976, 11, 2), seq=317, area="450322"),
        )
        HouseholdFactory(registration_no="4503991012010002", village=self.village, head__name="黄志坚")
        self.elsewhere = HouseholdFactory(
            registration_no="4503991022010001", village=other_village, head__name="韦秀兰"
        )


@pytest.fixture
def village() -> Village:
    return Village()


def search(page: Page, term: str) -> None:
    page.fill("input[name=q]", term)
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state()


def test_login_page_is_chinese_and_refuses_a_wrong_password(page: Page, village, shot):
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("扶贫小额信贷管理系统")
    expect(page.locator("label[for=id_username]")).to_contain_text("用户名")
    expect(page.locator("label[for=id_password]")).to_contain_text("密码")
    shot("login")

    log_in(page, "cadre", "not-the-password")
    error = page.locator(".form-errors")
    expect(error).to_be_visible()
    expect(error).to_contain_text("密码")
    assert CJK.search(error.inner_text()) and "Please" not in error.inner_text()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    shot("wrong-password")

    log_in(page, "cadre", PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator(".whoami")).to_contain_text("王建国")


def test_cadre_finds_a_household_by_name_and_by_id_number(page: Page, village, shot):
    log_in(page, "cadre")
    page.goto("/households/")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    shot("list")

    search(page, "韦秀兰")
    # The namesake in the other township is outside the cadre's area and never listed.
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("4503991012010001")
    expect(page.locator("body")).not_to_contain_text(village.elsewhere.registration_no)
    shot("search-name")

    search(page, village.head_number)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("4503991012010001")
    # Lists show the masked number only (PIPL art.28).
    expect(rows.first).to_contain_text(idnumbers.mask(village.head_number))
    expect(rows.first).not_to_contain_text(village.head_number)
    shot("search-id")

    # A household is titled by its head's name, the registration number beside it (issue 14).
    rows.first.get_by_role("link", name="韦秀兰").click()
    expect(page).to_have_url(re.compile(rf"/households/{village.household.pk}/$"))
    expect(page.locator("h1")).to_contain_text("4503991012010001")
    members = page.locator("table.list tbody tr")
    expect(members).to_have_count(2)
    expect(members.first).to_contain_text("韦秀兰")
    expect(members.nth(1)).to_contain_text("覃德明")
    shot("detail")


def test_cadre_enters_a_new_household_with_two_members(page: Page, village, shot):
    head_number = id_number(datetime.date(1985, 6, 15), seq=231, area="450399")
    spouse_number = id_number(datetime.date(1987, 9, 21), seq=462, area="450322")
    wrong_check = next(c for c in "0123456789X" if c != head_number[-1])
    mistyped = head_number[:17] + wrong_check

    log_in(page, "cadre")
    page.goto("/households/")
    page.locator('a[href="/households/new/"]').click()
    expect(page).to_have_url(re.compile(r"/households/new/$"))

    page.fill("input[name=registration_no]", "4503991012010099")
    page.select_option("select[name=village]", str(village.village.pk))
    page.select_option("select[name=poverty_status]", Household.PovertyStatus.NOT_EXITED)
    page.fill("input[name=address]", "青山镇青山村三组8号")
    page.fill("input[name=assets]", "35000")
    page.fill("input[name=debts]", "0")
    page.fill("input[name=annual_income]", "18000")
    page.fill("input[name=business]", "种植砂糖橘")
    member = {
        0: ("蒙志刚", mistyped, Member.Relation.HEAD, "13807731234"),
        1: ("罗春燕", spouse_number, Member.Relation.SPOUSE, ""),
    }
    for i, (name, number, relation, phone) in member.items():
        page.fill(f"input[name=members-{i}-name]", name)
        page.fill(f"input[name=members-{i}-id_number]", number)
        page.select_option(f"select[name=members-{i}-relation]", relation)
        page.fill(f"input[name=members-{i}-phone]", phone)
        page.select_option(f"select[name=members-{i}-labour_capacity]", Member.Labour.FULL)
    page.check("input[name=members-0-is_head]")
    shot("form-filled")
    page.locator("main form [type=submit]").click()
    page.wait_for_load_state()

    # Still on the form: the error sits next to the first member's ID number, nothing was saved,
    # and what was typed is still there.
    expect(page).to_have_url(re.compile(r"/households/new/$"))
    field = page.locator(".field.has-error", has=page.locator("input[name=members-0-id_number]"))
    expect(field).to_be_visible()
    expect(field.locator(".error")).to_contain_text(head_number[-1])
    assert CJK.search(field.locator(".error").inner_text())
    expect(page.locator("input[name=members-1-name]")).to_have_value("罗春燕")
    expect(page.locator("input[name=registration_no]")).to_have_value("4503991012010099")
    assert not Household.objects.filter(registration_no="4503991012010099").exists()
    shot("form-error")

    page.fill("input[name=members-0-id_number]", head_number)
    page.locator("main form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/households/\d+/$"))
    expect(page.locator("h1")).to_contain_text("4503991012010099")
    expect(page.locator("table.list tbody tr")).to_have_count(2)
    shot("created")

    household = Household.objects.get(registration_no="4503991012010099")
    assert household.village == village.village
    head, spouse = household.members.order_by("-is_head", "id")
    assert (head.name, head.is_head, head.id_number) == ("蒙志刚", True, head_number)
    assert (spouse.name, spouse.relation, spouse.id_number) == ("罗春燕", "spouse", spouse_number)

    page.goto("/households/")
    expect(page.locator("table.list tbody tr")).to_have_count(3)
    search(page, "蒙志刚")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("4503991012010099")
    shot("in-list")
