"""Identity and personal data (#10; PIPL arts. 28, 51; DOMAIN §2): a borrower's name and ID number
are locked against ordinary edits, a correction is an administrator's audited action with a
reason, every change to members is audited field by field, and every view of a full ID number is
recorded. Each test performs the attack and asserts that it fails."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from core.exceptions import ApplicationError
from core.models import AuditEvent
from households import idnumbers
from households.models import Member
from households.services.households import household_update
from loans.models import Loan, LoanApplication
from tests.factories import HouseholdFactory, LoanFactory, MemberFactory, UserFactory, unique_id_number

LOCKED_MESSAGE = "姓名和身份证号已锁定"


@pytest.fixture
def home(world):
    household = HouseholdFactory(village=world.v1a, head__name="黄大明")
    MemberFactory(household=household, name="李秀英")
    return household


def head_and_spouse(household):
    return household.members.get(is_head=True), household.members.get(is_head=False)


def apply(world, household, borrower, state) -> LoanApplication:
    app = LoanApplication.objects.create(
        household=household,
        borrower=borrower,
        amount=Decimal("30000.00"),
        term_months=24,
        purpose_category="breeding",
        created_by=world.cadre,
        capacity_attested=True,
        bank_account_no="6230 0000 1111 2222",
    )
    # `state` is protected: the test puts the application where the attack starts.
    LoanApplication.objects.filter(pk=app.pk).update(state=state)
    return app


def members_payload(household, changes=None) -> list[dict]:
    """The household's members as a PATCH sends them, with `changes` for member ids."""
    items = []
    for m in household.members.order_by("-is_head", "id"):
        item = {"id": m.pk, "name": m.name, "relation": m.relation, "is_head": m.is_head}
        item.update((changes or {}).get(m.pk, {}))
        items.append(item)
    return items


def identity(member) -> tuple:
    member.refresh_from_db()
    return member.name, member.id_number_hash, member.id_number_masked


# ---------------------------------------------------------------------------------------------
# The lock


@pytest.mark.parametrize(
    "borrowing",
    ["village_review", "publicity", "bank_approval", "disbursed", "rejected", "withdrawn", "loan"],
)
@pytest.mark.parametrize("field", ["name", "id_number"])
def test_a_cadre_cannot_change_a_borrowers_name_or_id_number_through_the_api(
    world, api_as, home, borrowing, field
):
    head, _spouse = head_and_spouse(home)
    if borrowing == "loan":
        LoanFactory(household=home, borrower=head, branch=world.br1)
    else:
        apply(world, home, head, borrowing)
    before = identity(head)
    change = {"name": "黄小明"} if field == "name" else {"id_number": unique_id_number(45)}
    audits = AuditEvent.objects.count()

    response = api_as(world.cadre).patch(
        f"/api/v1/households/{home.pk}/",
        {"members": members_payload(home, {head.pk: change})},
        format="json",
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "identity_locked"
    assert LOCKED_MESSAGE in body["message"] and "黄大明" in body["message"]
    assert body["extra"]["rules"][0]["rule"] == "identity_locked"
    assert body["extra"]["fields"]["members"]["0"][field]
    assert identity(head) == before, "nothing written"
    assert AuditEvent.objects.count() == audits


def test_the_service_refuses_too_whoever_calls_it(world, home):
    """The lock is in household_update, not only at the API: the page, the API and any script
    go through it."""
    head, _spouse = head_and_spouse(home)
    LoanFactory(household=home, borrower=head, branch=world.br1)
    before = identity(head)
    for user in (world.cadre, world.county_office, world.admin):
        with pytest.raises(ApplicationError) as caught:
            household_update(
                acting_user=user,
                household=home,
                members=members_payload(home, {head.pk: {"name": "  黄小明 "}}),
            )
        assert caught.value.code == "identity_locked"
    assert identity(head) == before


def test_the_lock_does_not_stop_other_edits_of_the_borrower_or_other_members(world, api_as, home):
    head, spouse = head_and_spouse(home)
    apply(world, home, head, "bank_acceptance")
    new_number = unique_id_number(38)

    response = api_as(world.cadre).patch(
        f"/api/v1/households/{home.pk}/",
        {
            "members": members_payload(
                home,
                {
                    head.pk: {"phone": "13900001111", "id_number": head.id_number},  # same number
                    spouse.pk: {"name": "李秀兰", "id_number": new_number},
                },
            )
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    head.refresh_from_db()
    spouse.refresh_from_db()
    assert (head.name, head.phone) == ("黄大明", "13900001111")
    assert (spouse.name, spouse.id_number) == ("李秀兰", new_number)


def test_a_draft_application_does_not_lock_yet(world, api_as, home):
    head, _spouse = head_and_spouse(home)
    apply(world, home, head, "draft")
    response = api_as(world.cadre).patch(
        f"/api/v1/households/{home.pk}/",
        {"members": members_payload(home, {head.pk: {"name": "黄小明"}})},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert identity(head)[0] == "黄小明"


def test_the_edit_page_cannot_change_a_locked_borrower(world, client_as, home):
    """The form shows the locked fields disabled; a tampered POST changes nothing about them."""
    head, spouse = head_and_spouse(home)
    LoanFactory(household=home, borrower=head, branch=world.br1)
    before = identity(head)
    client = client_as(world.cadre)
    url = reverse("households:edit", args=[home.pk])

    html = client.get(url).content.decode()
    assert 'name="members-0-name"' in html and "disabled" in html
    assert "已锁定" in html

    data = {
        "registration_no": home.registration_no,
        "village": str(world.v1a.pk),
        "poverty_status": "not_exited",
        "exited_on": "",
        "address": "五通村 9 组",
        "assets": "0",
        "debts": "0",
        "annual_income": "12000",
        "business": "",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "2",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    for i, (m, name, number) in enumerate(
        [(head, "黄小明", unique_id_number(45)), (spouse, spouse.name, "")]
    ):
        data.update(
            {
                f"members-{i}-id": str(m.pk),
                f"members-{i}-name": name,
                f"members-{i}-id_number": number,
                f"members-{i}-relation": m.relation,
                f"members-{i}-phone": "",
                f"members-{i}-labour_capacity": "full",
            }
        )
    data["members-0-is_head"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302
    assert identity(head) == before
    home.refresh_from_db()
    assert home.address == "五通村 9 组"


def test_a_locked_borrower_cannot_be_removed_to_be_entered_again(world, api_as, home):
    head, spouse = head_and_spouse(home)
    apply(world, home, spouse, "publicity")
    items = [i for i in members_payload(home) if i["id"] != spouse.pk]
    items.append({"name": "李秀兰", "relation": "spouse", "id_number": unique_id_number(39)})
    response = api_as(world.cadre).patch(f"/api/v1/households/{home.pk}/", {"members": items}, format="json")
    assert response.status_code == 400
    assert Member.objects.filter(pk=spouse.pk, name="李秀英").exists()


# ---------------------------------------------------------------------------------------------
# The correction


def correction_url(household, member):
    return f"/api/v1/households/{household.pk}/members/{member.pk}/identity-correction/"


@pytest.mark.parametrize("role", ["cadre", "township_officer", "county_office", "officer", "approver"])
def test_only_an_administrator_may_correct_a_locked_identity(world, api_as, client_as, home, role):
    head, _spouse = head_and_spouse(home)
    LoanFactory(household=home, borrower=head, branch=world.br1)
    before = identity(head)
    user = getattr(world, role)
    response = api_as(user).post(
        correction_url(home, head), {"name": "黄小明", "reason": "登记错误"}, format="json"
    )
    assert response.status_code == 403
    page = client_as(user).post(
        reverse("households:member_correct", args=[home.pk, head.pk]),
        {"name": "黄小明", "id_number": "", "reason": "登记错误"},
    )
    assert page.status_code in (403, 404)  # 404 for a role that does not see the household
    assert identity(head) == before
    assert not AuditEvent.objects.filter(action="member.identity_correct").exists()


def test_a_correction_needs_a_reason(world, api_as, home):
    head, _spouse = head_and_spouse(home)
    LoanFactory(household=home, borrower=head, branch=world.br1)
    before = identity(head)
    for body in ({"name": "黄小明"}, {"name": "黄小明", "reason": "   "}):
        response = api_as(world.admin).post(correction_url(home, head), body, format="json")
        assert response.status_code == 400
        assert "reason" in response.json()["extra"]["fields"]
    assert identity(head) == before


def test_an_administrator_of_another_county_does_not_reach_the_member(world, api_as, home):
    head, _spouse = head_and_spouse(home)
    stranger = UserFactory(username="otheradmin", unit=world.other_county, roles=[Role.ADMIN])
    response = api_as(stranger).post(
        correction_url(home, head), {"name": "黄小明", "reason": "登记错误"}, format="json"
    )
    assert response.status_code == 404
    assert identity(head)[0] == "黄大明"


def test_a_member_of_another_household_is_not_found_under_this_one(world, api_as, home):
    elsewhere = HouseholdFactory(village=world.v1a).members.get(is_head=True)
    response = api_as(world.admin).post(
        correction_url(home, elsewhere), {"name": "黄小明", "reason": "登记错误"}, format="json"
    )
    assert response.status_code == 404


def test_an_administrators_correction_is_audited_with_before_and_after_but_never_the_number(
    world, api_as, home
):
    head, _spouse = head_and_spouse(home)
    loan = LoanFactory(household=home, borrower=head, branch=world.br1)
    old_number = head.id_number
    old = {"hash": head.id_number_hash, "masked": head.id_number_masked}
    new_number = unique_id_number(45)

    response = api_as(world.admin).post(
        correction_url(home, head),
        {"name": "黄达明", "id_number": new_number, "reason": "户籍登记时姓名和号码录错，已核对身份证原件"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["id_number"] == idnumbers.mask(new_number)
    head.refresh_from_db()
    assert (head.name, head.id_number) == ("黄达明", new_number)
    loan.refresh_from_db()
    assert loan.borrower.name == "黄达明"
    event = AuditEvent.objects.get(action="member.identity_correct")
    assert event.actor == world.admin
    assert (event.object_type, event.object_id) == ("households.member", str(head.pk))
    assert event.reason == "户籍登记时姓名和号码录错，已核对身份证原件"
    assert event.data["locked"] is True
    assert event.data["changed"]["name"] == ["黄大明", "黄达明"]
    assert event.data["changed"]["id_number"] == [
        old,
        {"hash": idnumbers.lookup_hash(new_number), "masked": idnumbers.mask(new_number)},
    ]
    text = str(event.data) + event.reason
    assert old_number not in text and new_number not in text


def test_a_correction_page_for_the_administrator(world, client_as, home):
    head, _spouse = head_and_spouse(home)
    apply(world, home, head, "village_review")
    client = client_as(world.admin)
    detail = client.get(reverse("households:detail", args=[home.pk])).content.decode()
    url = reverse("households:member_correct", args=[home.pk, head.pk])
    assert f'href="{url}"' in detail and "身份已锁定" in detail
    response = client.post(url, {"name": "黄小明", "id_number": "", "reason": ""})
    assert response.status_code == 200 and "该字段是必填项" in response.content.decode()
    response = client.post(url, {"name": "黄小明", "id_number": "", "reason": "姓名错字"})
    assert response.status_code == 302
    assert identity(head)[0] == "黄小明"
    assert AuditEvent.objects.filter(action="member.identity_correct", reason="姓名错字").count() == 1


# ---------------------------------------------------------------------------------------------
# Every change to members is audited field by field


def test_member_changes_are_audited_field_by_field_with_id_numbers_only_hashed_and_masked(
    world, api_as, home
):
    head, spouse = head_and_spouse(home)
    old_spouse_number = spouse.id_number
    new_spouse_number = unique_id_number(37)
    child_number = unique_id_number(12)
    third = MemberFactory(household=home, name="黄三", relation="child")
    third_number = third.id_number
    items = members_payload(
        home,
        {
            head.pk: {"phone": "13900002222"},
            spouse.pk: {"name": "李秀兰", "id_number": new_spouse_number},
        },
    )
    items = [i for i in items if i["id"] != third.pk]
    items.append({"name": "黄小宝", "relation": "child", "id_number": child_number})

    response = api_as(world.cadre).patch(f"/api/v1/households/{home.pk}/", {"members": items}, format="json")

    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action="household.update")
    members = event.data["members"]
    changed = {c["id"]: c["changed"] for c in members["changed"]}
    assert changed[head.pk] == {"phone": [head.phone, "13900002222"]}
    assert changed[spouse.pk] == {
        "name": ["李秀英", "李秀兰"],
        "id_number": [
            {"hash": idnumbers.lookup_hash(old_spouse_number), "masked": idnumbers.mask(old_spouse_number)},
            {"hash": idnumbers.lookup_hash(new_spouse_number), "masked": idnumbers.mask(new_spouse_number)},
        ],
    }
    [added] = members["added"]
    assert added["name"] == "黄小宝"
    assert added["id_number"] == {
        "hash": idnumbers.lookup_hash(child_number),
        "masked": idnumbers.mask(child_number),
    }
    [removed] = members["removed"]
    assert (removed["id"], removed["name"]) == (third.pk, "黄三")
    assert removed["id_number"]["masked"] == idnumbers.mask(third_number)
    text = str(event.data)
    for number in (old_spouse_number, new_spouse_number, child_number, third_number, head.id_number):
        assert number not in text


# ---------------------------------------------------------------------------------------------
# Viewing a full ID number is an audited event


def test_the_api_detail_records_every_full_number_it_gives_out(world, api_as, home):
    head, spouse = head_and_spouse(home)
    response = api_as(world.cadre).get(f"/api/v1/households/{home.pk}/")
    numbers = {m["id"]: m["id_number"] for m in response.json()["members"]}
    assert numbers == {head.pk: head.id_number, spouse.pk: spouse.id_number}
    views = AuditEvent.objects.filter(action="member.id_number_view", actor=world.cadre)
    assert {(v.object_id, v.data["via"]) for v in views} == {(str(head.pk), "api"), (str(spouse.pk), "api")}
    assert all(v.data["id_number"]["masked"] for v in views)
    assert not any(head.id_number in str(v.data) or spouse.id_number in str(v.data) for v in views)


def test_a_role_without_full_numbers_gets_masked_ones_and_leaves_no_view_record(world, api_as, home):
    head, _spouse = head_and_spouse(home)
    response = api_as(world.township_officer).get(f"/api/v1/households/{home.pk}/")
    assert head.id_number not in response.content.decode()
    assert response.json()["members"][0]["id_number"] == head.id_number_masked
    assert not AuditEvent.objects.filter(action="member.id_number_view").exists()


def test_the_list_api_never_gives_full_numbers(world, api_as, home):
    head, _spouse = head_and_spouse(home)
    content = api_as(world.cadre).get("/api/v1/households/").content.decode()
    assert head.id_number not in content and head.id_number_masked in content


def test_the_detail_page_masks_and_revealing_a_number_is_an_explicit_audited_action(world, client_as, home):
    head, spouse = head_and_spouse(home)
    client = client_as(world.cadre)
    html = client.get(reverse("households:detail", args=[home.pk])).content.decode()
    assert head.id_number not in html and spouse.id_number not in html
    assert not AuditEvent.objects.filter(action="member.id_number_view").exists()

    url = reverse("households:member_id_number", args=[home.pk, spouse.pk])
    assert client.get(url).status_code == 405, "a link or a prefetch does not reveal a number"
    response = client.post(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert spouse.id_number in html and head.id_number not in html
    assert "no-store" in response["Cache-Control"]
    [view] = AuditEvent.objects.filter(action="member.id_number_view")
    assert (view.actor, view.object_id, view.data["via"]) == (world.cadre, str(spouse.pk), "page")


@pytest.mark.parametrize("role", ["township_officer", "county_office", "finance"])
def test_a_role_without_full_numbers_cannot_reveal_one(world, client_as, home, role):
    _head, spouse = head_and_spouse(home)
    response = client_as(getattr(world, role)).post(
        reverse("households:member_id_number", args=[home.pk, spouse.pk])
    )
    assert response.status_code in (403, 404)
    assert spouse.id_number not in response.content.decode()
    assert not AuditEvent.objects.filter(action="member.id_number_view").exists()


def test_revealing_a_number_outside_ones_area_answers_404(world, client_as, home):
    _head, spouse = head_and_spouse(home)
    response = client_as(world.other_cadre).post(
        reverse("households:member_id_number", args=[home.pk, spouse.pk])
    )
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="member.id_number_view").exists()


def test_loan_import_borrowers_are_locked_too(world, api_as, home):
    """An imported loan (存量贷款) has no application; its borrower is locked all the same."""
    head, _spouse = head_and_spouse(home)
    Loan.objects.filter(pk=LoanFactory(household=home, borrower=head, branch=world.br1).pk).update(
        imported=True
    )
    response = api_as(world.county_office).patch(
        f"/api/v1/households/{home.pk}/",
        {"members": members_payload(home, {head.pk: {"name": "黄小明"}})},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "identity_locked"


@pytest.mark.parametrize("role", ["cadre", "officer", "approver"])
def test_the_application_pages_mask_the_borrowers_number_even_for_roles_that_may_see_it(
    world, client_as, home, role
):
    head, _spouse = head_and_spouse(home)
    app = apply(world, home, head, "bank_approval")
    response = client_as(getattr(world, role)).get(reverse("loans:application_detail", args=[app.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert head.id_number not in html and head.id_number_masked in html


def test_a_correction_cannot_take_another_persons_number_or_an_invalid_one(world, api_as, home):
    head, spouse = head_and_spouse(home)
    LoanFactory(household=home, borrower=head, branch=world.br1)
    before = identity(head)
    taken = api_as(world.admin).post(
        correction_url(home, head), {"id_number": spouse.id_number, "reason": "核对"}, format="json"
    )
    assert taken.status_code == 400
    assert taken.json()["extra"]["rules"][0]["rule"] == "id_number_unique"
    assert spouse.id_number not in taken.content.decode()
    broken = api_as(world.admin).post(
        correction_url(home, head), {"id_number": head.id_number[:-1] + "Z", "reason": "核对"}, format="json"
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid"
    assert identity(head) == before
    assert not AuditEvent.objects.filter(action="member.identity_correct").exists()
