"""The household pages: they render their forms, put errors next to fields, respect roles and
scope, and their query counts do not grow with the rows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from households import idnumbers
from households.models import BlacklistEntry, BlacklistRemovalRequest, CreditRating, Household
from households.services.blacklist import blacklist_add, blacklist_removal_request
from tests.factories import (
    CreditRatingFactory,
    HouseholdFactory,
    MemberFactory,
    UserFactory,
    unique_id_number,
)

from .util import counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def home(world):
    household = HouseholdFactory(village=world.v1a, registration_no="450312-A-001", head__name="黄大明")
    MemberFactory(household=household, name="李秀英")
    return household


def formset_data(members, total=None, initial=0, **household):
    data = {
        "registration_no": "450312-NEW-1",
        "village": "",
        "poverty_status": "not_exited",
        "exited_on": "",
        "address": "五通村 2 组",
        "assets": "0",
        "debts": "0",
        "annual_income": "8000",
        "business": "",
        "members-TOTAL_FORMS": str(total if total is not None else len(members)),
        "members-INITIAL_FORMS": str(initial),
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    data.update(household)
    for i, m in enumerate(members):
        # A row left blank posts what the browser sends: empty inputs and the selects' defaults.
        m = m or {"name": "", "id_number": "", "relation": "", "phone": "", "labour_capacity": "full"}
        for key, value in m.items():
            if key == "is_head":
                if value:
                    data[f"members-{i}-is_head"] = "on"
            else:
                data[f"members-{i}-{key}"] = value
    return data


def row(name, head=False, number=None, relation=None, **extra):
    return {
        "name": name,
        "id_number": number or unique_id_number(40),
        "relation": relation or ("head" if head else "spouse"),
        "is_head": head,
        "phone": "",
        "labour_capacity": "full",
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# List


def test_list_shows_masked_ids_places_status_rating_and_blacklist(world, client_as, home):
    CreditRatingFactory(
        household=home,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        score=75,
        grade="AA",
        credit_limit="30000.00",
    )
    blacklist_add(acting_user=world.county_office, household=home, reason="恶意逃债")
    head = home.members.get(is_head=True)
    html = client_as(world.cadre).get(reverse("households:list")).content.decode()
    assert "450312-A-001" in html and "黄大明" in html
    assert head.id_number_masked in html and head.id_number not in html
    assert "五通镇 · 五通村" in html
    assert "未脱贫" in html
    assert "AA" in html and "30,000.00" in html
    assert "黑名单" in html
    assert "新增贫困户" in html


def test_list_shows_no_credit_line_below_the_lowest_band(world, client_as, home):
    CreditRatingFactory(
        household=home,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        score=45,
        grade="none",
        credit_limit="0.00",
    )
    html = client_as(world.cadre).get(reverse("households:list")).content.decode()
    assert "未达评级" in html
    assert "0.00" not in html
    assert '<td class="num">-</td>' in html
    # The column is sortable (issue 14): its header is a link.
    assert '<th class="sortable num">' in html and "授信额度（元）<span" in html


def test_list_search_filters_and_scope(world, client_as, home):
    HouseholdFactory(village=world.v1b, registration_no="450312-B-001", head__name="陈二")
    HouseholdFactory(village=world.vz, registration_no="450323-Z-001")
    client = client_as(world.township_officer)
    html = client.get(reverse("households:list")).content.decode()
    assert "450312-A-001" in html and "450312-B-001" in html and "450323-Z-001" not in html
    html = client.get(reverse("households:list"), {"q": "陈"}).content.decode()
    assert "450312-B-001" in html and "450312-A-001" not in html
    number = home.members.get(name="李秀英").id_number
    html = client.get(reverse("households:list"), {"q": number.lower()}).content.decode()
    assert "450312-A-001" in html and "450312-B-001" not in html
    html = client.get(reverse("households:list"), {"village": world.v1b.pk}).content.decode()
    assert "450312-B-001" in html and "450312-A-001" not in html
    r = client.get(reverse("households:list"), {"status": "exited"})
    assert "没有找到" in r.content.decode() or "No households" in r.content.decode()
    assert 'name="q"' in html and 'name="village"' in html and 'name="status"' in html


def test_list_pages_by_20(world, client_as):
    for _i in range(21):
        HouseholdFactory(village=world.v1a)
    r = client_as(world.cadre).get(reverse("households:list"))
    assert len(r.context["rows"]) == 20
    assert r.context["page_obj"].paginator.num_pages == 2
    assert len(client_as(world.cadre).get(reverse("households:list"), {"page": 2}).context["rows"]) == 1


def test_the_new_household_button_is_for_editors_only(world, client_as):
    assert "新增贫困户" not in client_as(world.officer).get(reverse("households:list")).content.decode()


def make_rows(world, n):
    for _i in range(n):
        h = HouseholdFactory(village=world.v1a)
        MemberFactory(household=h)
        CreditRatingFactory(household=h, profile=world.profile, branch=world.br1, rated_by=world.officer)
        BlacklistEntry.objects.create(household=h, reason="x", added_by=world.county_office)


def test_list_query_count_does_not_grow_with_rows(world, client_as, django_assert_max_num_queries):
    client = client_as(world.county_office)
    make_rows(world, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("households:list")).status_code == 200
    make_rows(world, 27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = client.get(reverse("households:list"))
    assert len(r.context["rows"]) == 20


# ---------------------------------------------------------------------------------------------
# Detail


def test_detail_shows_members_ages_and_masked_ids_and_the_reveal_button_by_role(world, client_as, home):
    """#10: the detail masks ID numbers for every role; a role whose work needs the whole number
    gets a button that shows it (an audited action, tests/security/test_identity.py)."""
    spouse = home.members.get(name="李秀英")
    reveal = reverse("households:member_id_number", args=[home.pk, spouse.pk])
    html = client_as(world.cadre).get(reverse("households:detail", args=[home.pk])).content.decode()
    assert spouse.id_number not in html and spouse.id_number_masked in html
    assert f'action="{reveal}"' in html and "显示完整身份证号" in html
    assert str(spouse.age_on(datetime.date.today())) in html
    html = (
        client_as(world.township_officer).get(reverse("households:detail", args=[home.pk])).content.decode()
    )
    assert spouse.id_number not in html and spouse.id_number_masked in html
    assert reveal not in html


def test_detail_says_no_credit_line_below_the_lowest_band(world, client_as, home):
    CreditRatingFactory(
        household=home,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        score=45,
        grade="none",
        credit_limit="0.00",
    )
    html = client_as(world.cadre).get(reverse("households:detail", args=[home.pk])).content.decode()
    assert "45 分，不授信" in html
    assert "授信额度 0.00" not in html and '<td class="num">-</td>' in html  # rating history


def test_detail_buttons_follow_what_the_user_may_do(world, client_as, home):
    def links(user):
        html = client_as(user).get(reverse("households:detail", args=[home.pk])).content.decode()
        return {
            name
            for name in ("edit", "rate", "blacklist_add", "blacklist_remove")
            if f'href="{reverse(f"households:{name}", args=[home.pk])}"' in html
        }

    assert links(world.cadre) == {"edit"}
    assert links(world.officer) == {"rate", "blacklist_add"}
    assert links(world.county_office) == {"edit", "blacklist_add"}
    assert links(world.approver) == set()
    blacklist_add(acting_user=world.county_office, household=home, reason="恶意逃债")
    assert links(world.county_office) == {"edit", "blacklist_remove"}


def test_detail_out_of_scope_is_404(world, client_as, home):
    assert client_as(world.other_cadre).get(reverse("households:detail", args=[home.pk])).status_code == 404
    assert client_as(world.other_cadre).get(reverse("households:edit", args=[home.pk])).status_code == 404
    assert client_as(world.cadre).get(reverse("households:detail", args=[999999])).status_code == 404


def test_detail_query_count_does_not_grow_with_members_and_history(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.cadre)
    home = HouseholdFactory(village=world.v1a)

    def grow(n):
        for _i in range(n):
            MemberFactory(household=home)
            CreditRatingFactory(
                household=home, profile=world.profile, branch=world.br1, rated_by=world.officer
            )
        for entry in BlacklistEntry.objects.filter(household=home, removed_at__isnull=True):
            entry.removed_at, entry.removed_by, entry.removal_reason = (
                entry.added_at,
                world.county_office,
                "y",
            )
            entry.save()
        BlacklistEntry.objects.create(household=home, reason="x", added_by=world.county_office)

    grow(2)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("households:detail", args=[home.pk]))
    for _i in range(5):
        grow(3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("households:detail", args=[home.pk])).status_code == 200


# ---------------------------------------------------------------------------------------------
# Create and edit


def test_create_page_renders_the_household_form_and_member_formset(world, client_as):
    r = client_as(world.cadre).get(reverse("households:create"))
    html = r.content.decode()
    assert r.status_code == 200
    for name in (
        "registration_no",
        "village",
        "poverty_status",
        "members-TOTAL_FORMS",
        "members-0-name",
        "members-0-id_number",
        "members-0-relation",
        "members-0-is_head",
        "members-0-phone",
        "members-0-labour_capacity",
        "members-1-name",
    ):
        assert f'name="{name}"' in html
    assert 'id="add-member"' in html and "__prefix__" in html
    # Scripts come from our own static files (no CDN; inline scripts are refused by the CSP).
    assert '<script src="/static/js/households/form.js">' in html
    assert '<script src="http' not in html and '<script src="//' not in html
    # A new member's ID number is required, and marked so (the template row too).
    formset = r.context["formset"]
    assert all(f.fields["id_number"].required for f in formset.forms)
    assert formset.empty_form.fields["id_number"].required
    assert "请选择村" in html and "请选择" in html and ">---------<" not in html
    # The exit date stays in the page (visible without JavaScript); the script hides it.
    assert 'name="exited_on"' in html and "仅已脱贫户填写" in html


def test_submitting_no_member_says_so_at_the_members(world, client_as):
    client = client_as(world.cadre)
    # Everything empty: the household fields and the members section both say what is missing.
    r = client.post(reverse("households:create"), formset_data([{}, {}], registration_no=""))
    assert r.status_code == 200
    assert "registration_no" in r.context["form"].errors
    assert r.context["member_errors"] == ["请至少录入户主一人。"]
    html = r.content.decode()
    assert 'id="members-errors"' in html and "请至少录入户主一人。" in html
    # A complete household without members: only the members section is flagged.
    r = client.post(reverse("households:create"), formset_data([{}, {}], village=str(world.v1a.pk)))
    assert r.status_code == 200 and not r.context["form"].errors
    assert r.context["member_errors"] == ["请至少录入户主一人。"]
    assert not Household.objects.exists()


def test_removing_every_member_on_edit_says_so_at_the_members(world, client_as, home):
    head, spouse = home.members.order_by("-is_head", "id")
    members = [
        {
            "id": m.pk,
            "name": m.name,
            "id_number": "",
            "relation": m.relation,
            "is_head": m.is_head,
            "phone": "",
            "labour_capacity": "full",
            "DELETE": "on",
        }
        for m in (head, spouse)
    ]
    data = formset_data(members, initial=2, registration_no=home.registration_no, village=str(world.v1a.pk))
    r = client_as(world.cadre).post(reverse("households:edit", args=[home.pk]), data)
    assert r.status_code == 200
    assert r.context["member_errors"] == ["请至少录入户主一人。"]
    assert home.members.count() == 2


def test_a_new_member_without_id_number_is_flagged_on_its_field(world, client_as):
    data = formset_data([row("韦小宝", head=True)], village=str(world.v1a.pk))
    data["members-0-id_number"] = ""
    r = client_as(world.cadre).post(reverse("households:create"), data)
    assert r.status_code == 200
    assert r.context["formset"].forms[0].errors["id_number"] == ["请填写身份证号。"]
    assert not r.context["member_errors"]


def test_create_saves_and_redirects_to_the_detail(world, client_as):
    client = client_as(world.cadre)
    data = formset_data([row("韦小宝", head=True), row("韦双儿"), {}], total=3, village=str(world.v1a.pk))
    r = client.post(reverse("households:create"), data)
    household = Household.objects.get(registration_no="450312-NEW-1")
    assert r.status_code == 302 and r.url == reverse("households:detail", args=[household.pk])
    assert sorted(household.members.values_list("name", flat=True)) == ["韦双儿", "韦小宝"]


def test_a_bad_id_number_is_shown_next_to_its_field_and_nothing_is_saved(world, client_as):
    before = counts()
    good = unique_id_number(30)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    data = formset_data([row("韦小宝", head=True), row("韦双儿", number=bad)], village=str(world.v1a.pk))
    r = client_as(world.cadre).post(reverse("households:create"), data)
    assert r.status_code == 200
    forms = r.context["formset"].forms
    assert not forms[0].errors
    assert "id_number" in forms[1].errors
    assert "校验" in forms[1].errors["id_number"][0]
    assert forms[1].errors["id_number"][0] in r.content.decode()
    assert counts() == before


def test_a_number_registered_elsewhere_is_shown_on_that_member_and_nothing_is_saved(world, client_as, home):
    before = counts()
    taken = home.members.get(name="李秀英").id_number
    # The blank row in between is skipped, and the error still lands on the right form.
    data = formset_data(
        [row("韦小宝", head=True), {}, row("韦双儿", number=taken)], village=str(world.v1a.pk)
    )
    r = client_as(world.cadre).post(reverse("households:create"), data)
    assert r.status_code == 200
    forms = r.context["formset"].forms
    assert "id_number" in forms[2].errors and not forms[0].errors
    assert idnumbers.mask(taken) in forms[2].errors["id_number"][0]
    assert counts() == before


def test_two_heads_is_shown_above_the_members(world, client_as):
    data = formset_data([row("甲", head=True), row("乙", head=True)], village=str(world.v1a.pk))
    r = client_as(world.cadre).post(reverse("households:create"), data)
    assert r.status_code == 200
    assert r.context["member_errors"]
    assert 'id="members-errors"' in r.content.decode()
    assert not Household.objects.exists()


def test_a_village_outside_the_area_is_not_offered(world, client_as):
    data = formset_data([row("甲", head=True)], village=str(world.vz.pk))
    r = client_as(world.cadre).post(reverse("households:create"), data)
    assert r.status_code == 200 and "village" in r.context["form"].errors
    assert not Household.objects.exists()


def test_create_and_edit_are_403_for_other_roles(world, client_as, home):
    for user in (world.officer, world.finance):
        assert client_as(user).get(reverse("households:create")).status_code == 403
        assert client_as(user).get(reverse("households:edit", args=[home.pk])).status_code == 403


def test_edit_prefills_members_and_saves_changes(world, client_as, home):
    client = client_as(world.township_officer)
    r = client.get(reverse("households:edit", args=[home.pk]))
    forms = r.context["formset"].forms
    head, spouse = home.members.order_by("-is_head", "id")
    assert [f.initial["name"] for f in forms[:2]] == ["黄大明", "李秀英"]
    # The township officer does not see full numbers, so the field is empty with the masked one shown.
    html = r.content.decode()
    assert head.id_number not in html and head.id_number_masked in html
    assert "留空则保留已登记的号码" in html
    # Stored members may keep their number, so it is not required; they can be removed.
    assert not forms[0].fields["id_number"].required and forms[2].fields["id_number"].required
    assert "从本户移除" in html
    data = formset_data(
        [
            {
                "id": head.pk,
                "name": "黄大明",
                "id_number": "",
                "relation": "head",
                "is_head": True,
                "phone": "",
                "labour_capacity": "full",
            },
            {
                "id": spouse.pk,
                "name": "李秀英",
                "id_number": "",
                "relation": "spouse",
                "is_head": False,
                "phone": "",
                "labour_capacity": "partial",
                "DELETE": "on",
            },
            row("黄小明", relation="child"),
        ],
        initial=2,
        registration_no=home.registration_no,
        village=str(world.v1a.pk),
        address="新地址",
    )
    r = client.post(reverse("households:edit", args=[home.pk]), data)
    assert r.status_code == 302, r.context["form"].errors if r.context else ""
    home.refresh_from_db()
    assert home.address == "新地址"
    assert sorted(home.members.values_list("name", flat=True)) == ["黄大明", "黄小明"]
    assert home.members.get(name="黄大明").id_number == head.id_number


def test_the_edit_form_never_carries_a_full_number(world, client_as, home):
    """#10: opening the form is not a way round the audited reveal: even a cadre gets the masked
    number and keeps the stored one by leaving the field empty."""
    head = home.members.get(is_head=True)
    html = client_as(world.cadre).get(reverse("households:edit", args=[home.pk])).content.decode()
    assert head.id_number not in html
    assert head.id_number_masked in html and "留空则保留" in html


# ---------------------------------------------------------------------------------------------
# Rating


def test_rate_page_shows_the_dimensions_with_their_maxima_and_the_bands(world, client_as, home):
    r = client_as(world.officer).get(reverse("households:rate", args=[home.pk]))
    html = r.content.decode()
    assert r.status_code == 200
    for name, maximum in [
        ("score_integrity", 30),
        ("score_labour", 20),
        ("score_income", 20),
        ("score_project", 15),
        ("score_assets", 15),
    ]:
        assert f'name="{name}"' in html
        assert f'max="{maximum}"' in html
    assert "0-30" in html
    assert 'id="rating-bands"' in html and '"min": 80' in html and "50,000.00" in html
    # Chinese punctuation in the Chinese sentences.
    assert "户主：黄大明" in html and "户主:" not in html
    assert "分档：AAA 级（80 分及以上）授信 50,000.00 元；" in html
    assert "低于 60 分为未达评级，不授信。保存时由系统计算最终结果。" in html


def test_rate_page_saves_the_servers_computation(world, client_as, home):
    data = {
        "score_integrity": "25",
        "score_labour": "15",
        "score_income": "15",
        "score_project": "10",
        "score_assets": "5",
        "valid_from": "",
        "comment": "实地走访",
    }
    r = client_as(world.officer).post(reverse("households:rate", args=[home.pk]), data)
    assert r.status_code == 302
    rating = CreditRating.objects.get()
    assert (rating.score, rating.grade, str(rating.credit_limit)) == (70, "AA", "30000.00")
    assert rating.valid_from == datetime.date.today()


def test_rate_page_shows_a_dimension_over_its_maximum_next_to_it(world, client_as, home):
    data = {
        "score_integrity": "31",
        "score_labour": "15",
        "score_income": "15",
        "score_project": "10",
        "score_assets": "5",
    }
    r = client_as(world.officer).post(reverse("households:rate", args=[home.pk]), data)
    assert r.status_code == 200
    assert "score_integrity" in r.context["form"].errors
    assert not CreditRating.objects.exists()


def test_rate_page_roles_and_scope(world, client_as, home):
    assert client_as(world.cadre).get(reverse("households:rate", args=[home.pk])).status_code == 403
    assert client_as(world.approver).get(reverse("households:rate", args=[home.pk])).status_code == 403
    br2_officer = UserFactory(unit=world.br2, roles=["loan_officer"])
    assert client_as(br2_officer).get(reverse("households:rate", args=[home.pk])).status_code == 404


# ---------------------------------------------------------------------------------------------
# Blacklist


def test_blacklist_add_needs_a_reason_then_remove_keeps_the_entry(world, client_as, home):
    client = client_as(world.county_office)
    url = reverse("households:blacklist_add", args=[home.pk])
    r = client.get(url)
    assert r.status_code == 200 and 'name="reason"' in r.content.decode()
    r = client.post(url, {"reason": "  "})
    assert r.status_code == 200 and "reason" in r.context["form"].errors
    assert not BlacklistEntry.objects.exists()
    assert client.post(url, {"reason": "恶意逃废债务"}).status_code == 302
    r = client.post(url, {"reason": "again"})
    assert r.status_code == 200 and r.context["form"].non_field_errors()
    assert BlacklistEntry.objects.count() == 1

    html = client.get(reverse("households:blacklist")).content.decode()
    assert "恶意逃废债务" in html and home.registration_no in html
    # The entry is kept, so the button says 移出, not 删除; it asks for a removal (issue 10).
    remove_url = reverse("households:blacklist_remove", args=[home.pk])
    assert f'<a class="btn" href="{remove_url}">申请移出</a>' in html
    assert "删除" not in html

    # Issue 10 changed this test: the page used to remove the household at once. Now it files a
    # request, and only a second keeper's approval lifts the entry.
    url = reverse("households:blacklist_remove", args=[home.pk])
    assert "移出原因" in client.get(url).content.decode()
    r = client.post(url, {"basis": "settled", "reason": ""})
    assert r.status_code == 200 and "reason" in r.context["form"].errors
    r = client.post(url, {"basis": "settled", "reason": "已还清"})
    removal = BlacklistRemovalRequest.objects.get()
    assert r.status_code == 302 and r.url == reverse("households:blacklist_removal_detail", args=[removal.pk])
    entry = BlacklistEntry.objects.get()
    assert entry.is_active
    # The requester sees no approve button and cannot approve by posting.
    detail = reverse("households:blacklist_removal_detail", args=[removal.pk])
    approve = reverse("households:blacklist_removal_approve", args=[removal.pk])
    assert approve not in client.get(detail).content.decode()
    assert client.post(approve, {}).status_code == 403
    # Asking again goes to the pending request.
    assert client.get(url).url == detail
    other = client_as(world.officer)
    r = other.get(reverse("households:blacklist_removals"))
    assert home.registration_no in r.content.decode() and detail in r.content.decode()
    assert approve in other.get(detail).content.decode()
    assert other.post(approve, {"comment": "已核实"}).status_code == 302
    entry.refresh_from_db()
    assert not entry.is_active and entry.removal_reason == "已还清" and entry.removed_by == world.officer
    client = client_as(world.county_office)
    r = client.get(reverse("households:blacklist"))
    assert r.context["rows"] == [] and "恶意逃废债务" not in r.content.decode()
    # Nothing left to remove: back to the household with a notice.
    assert client.get(url).status_code == 302


def test_blacklist_pages_roles_and_scope(world, client_as, home):
    assert client_as(world.cadre).get(reverse("households:blacklist_add", args=[home.pk])).status_code == 403
    assert client_as(world.cadre).get(reverse("households:blacklist")).status_code == 200
    other = HouseholdFactory(village=world.vz)
    r = client_as(world.county_office).get(reverse("households:blacklist_add", args=[other.pk]))
    assert r.status_code == 404


def test_blacklist_removal_pages_reject_roles_and_scope(world, client_as, home):
    entry = blacklist_add(acting_user=world.officer, household=home, reason="恶意逃债")
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="exception", reason="分期偿还"
    )
    detail = reverse("households:blacklist_removal_detail", args=[removal.pk])
    reject = reverse("households:blacklist_removal_reject", args=[removal.pk])
    approve = reverse("households:blacklist_removal_approve", args=[removal.pk])
    # A cadre of the village may look but not decide.
    assert client_as(world.cadre).get(detail).status_code == 200
    assert client_as(world.cadre).post(approve, {}).status_code == 403
    # Another county's keeper: 404 for the request, the list and both actions.
    stranger = UserFactory(unit=world.other_county, roles=["county_office"])
    for url in (detail, approve, reject):
        assert client_as(stranger).get(url).status_code in (404, 405)
        assert client_as(stranger).post(url, {"reason": "x"}).status_code == 404
    r = client_as(stranger).get(reverse("households:blacklist_removals") + "?state=all")
    assert not r.context["page_obj"].object_list
    client = client_as(world.county_office)
    r = client.post(reject, {"reason": ""})
    assert r.status_code == 200 and "reason" in r.context["reject_form"].errors
    assert client.post(reject, {"reason": "材料不全"}).status_code == 302
    removal.refresh_from_db()
    entry.refresh_from_db()
    assert removal.state == "rejected" and removal.decided_by == world.county_office and entry.is_active
    assert "材料不全" in client.get(detail).content.decode()


def test_blacklist_list_query_count_does_not_grow(world, client_as, django_assert_max_num_queries):
    client = client_as(world.county_office)
    make_rows(world, 3)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("households:blacklist"))
    make_rows(world, 20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("households:blacklist")).status_code == 200


def test_pages_require_login(client, world, home):
    r = client.get(reverse("households:list"))
    assert r.status_code == 302 and reverse("accounts:login") in r.url


def test_list_links_to_excel_export_with_the_filters_and_import_for_editors(world, client_as):
    html = client_as(world.cadre).get("/households/", {"q": "张", "status": "exited"}).content.decode()
    assert "/households/export/?q=%E5%BC%A0&amp;status=exited" in html
    assert "/households/import/" in html
    html = client_as(world.finance).get("/households/").content.decode()
    assert "/households/export/" in html
    assert "/households/import/" not in html
