"""household_create / household_update: the rules, and that a refusal writes nothing."""

import datetime
from decimal import Decimal

import pytest

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from households import idnumbers
from households.models import Household, Member
from households.services.households import household_create, household_update
from tests.factories import HouseholdFactory, MemberFactory, unique_id_number

from .util import counts, member, number_with_check_x

pytestmark = pytest.mark.django_db


def create(world, user=None, **overrides):
    fields = {
        "registration_no": "450322-0001",
        "village": world.v1a,
        "members": [member("李四", head=True), member("王芳")],
    }
    fields.update(overrides)
    return household_create(acting_user=user or world.cadre, **fields)


def refused(exc_type, fn, *args, **kwargs):
    before = counts()
    with pytest.raises(exc_type) as e:
        fn(*args, **kwargs)
    assert counts() == before, "a refused write left rows behind"
    return e.value


@pytest.mark.parametrize("role", ["cadre", "township_officer", "county_office", "admin"])
def test_editors_create_a_household_with_members_and_an_audit_row(world, role):
    user = getattr(world, role)
    household = create(world, user=user, annual_income=Decimal("8000.50"))
    assert household.village == world.v1a
    assert household.annual_income == Decimal("8000.50")
    members = list(household.members.order_by("-is_head", "id"))
    assert [m.name for m in members] == ["李四", "王芳"]
    assert [m.is_head for m in members] == [True, False]
    assert members[0].relation == Member.Relation.HEAD
    event = AuditEvent.objects.get(action="household.create", object_id=str(household.pk))
    assert event.actor == user
    assert event.data["registration_no"] == "450322-0001" and event.data["members"] == 2
    # Each member added, field by field; the ID number only as keyed hash and masked form (#10).
    assert [(m["id"], m["name"], m["id_number"]) for m in event.data["added"]] == [
        (m.pk, m.name, {"hash": m.id_number_hash, "masked": m.id_number_masked}) for m in members
    ]
    assert not any(m.id_number in str(event.data) for m in members)


@pytest.mark.parametrize("role", ["officer", "approver", "finance", "committee"])
def test_other_roles_may_not_create_households(world, role):
    refused(NotPermitted, create, world, user=getattr(world, role))


def test_a_village_outside_the_users_area_is_refused(world):
    e = refused(ApplicationError, create, world, village=world.vz)
    assert e.field == "village"
    assert e.extra["rules"][0]["rule"] == "village_in_scope"
    # A cadre of V1a may not enter households of V1b either; a township officer may.
    refused(ApplicationError, create, world, village=world.v1b)
    assert create(world, user=world.township_officer, village=world.v1b).village == world.v1b


@pytest.mark.parametrize("heads", [0, 2])
def test_a_household_has_exactly_one_head(world, heads):
    members = [member("甲", head=heads >= 1), member("乙", head=heads >= 2), member("丙")]
    e = refused(ApplicationError, create, world, members=members)
    assert e.field == "members"
    assert e.code == "rule_failed"
    assert e.extra["rules"][0]["rule"] == "household_one_head"


def test_relation_head_makes_the_member_the_head(world):
    household = create(world, members=[member("甲", relation=Member.Relation.HEAD), member("乙")])
    assert household.members.get(is_head=True).name == "甲"


def test_an_invalid_id_number_names_the_member_and_writes_nothing(world):
    bad = unique_id_number(30)
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    e = refused(ApplicationError, create, world, members=[member("甲", head=True), member("乙", number=bad)])
    assert e.field == "members.1.id_number"
    assert e.code == "invalid"
    assert list(e.extra["fields"]["members"]) == ["1"]
    assert list(e.extra["fields"]["members"]["1"]) == ["id_number"]


def test_a_numeric_id_number_is_refused_as_not_text(world):
    number = unique_id_number(30)
    e = refused(
        ApplicationError, create, world, members=[member("甲", head=True, number=int(number[:17] + "1"))]
    )
    assert e.field == "members.0.id_number"


def test_a_person_can_be_in_one_household_only(world):
    number = unique_id_number(50)
    create(world, registration_no="H-1", members=[member("甲", head=True, number=number)])
    e = refused(
        ApplicationError,
        create,
        world,
        registration_no="H-2",
        members=[member("乙", head=True), member("甲", number=number.lower())],
    )
    assert e.field == "members.1.id_number"
    assert e.extra["rules"][0]["rule"] == "id_number_unique"
    assert idnumbers.mask(number) in e.message
    assert not Household.objects.filter(registration_no="H-2").exists()


def test_the_same_number_twice_in_one_household_is_refused(world):
    number = unique_id_number(50)
    e = refused(
        ApplicationError,
        create,
        world,
        members=[member("甲", head=True, number=number), member("乙", number=number)],
    )
    assert e.field == "members.1.id_number"


def test_lower_case_x_is_stored_upper_case(world):
    number = number_with_check_x()
    household = create(world, members=[member("甲", head=True, number=number.lower())])
    stored = household.members.get()
    assert stored.id_number == number
    assert stored.id_number_hash == idnumbers.lookup_hash(number)


def test_an_exited_household_needs_its_exit_date_and_only_it_has_one(world):
    e = refused(ApplicationError, create, world, poverty_status=Household.PovertyStatus.EXITED)
    assert e.field == "exited_on"
    e = refused(ApplicationError, create, world, exited_on=datetime.date(2020, 1, 1))
    assert e.field == "exited_on"
    future = datetime.date.today() + datetime.timedelta(days=10)
    e = refused(ApplicationError, create, world, poverty_status="exited", exited_on=future)
    assert e.field == "exited_on"
    assert create(world, poverty_status="exited", exited_on=datetime.date(2020, 12, 1)).exited_on


def test_a_registration_number_is_unique(world):
    create(world, registration_no="H-1")
    e = refused(ApplicationError, create, world, registration_no="H-1", members=[member("丁", head=True)])
    assert e.field == "registration_no"
    assert "registration_no" in e.extra["fields"]


def test_a_member_with_a_bad_choice_is_refused_on_its_field(world):
    e = refused(
        ApplicationError, create, world, members=[member("甲", head=True), member("乙", relation="cousin")]
    )
    assert e.field == "members.1.relation"


# ---------------------------------------------------------------------------------------------
# Updates


@pytest.fixture
def household(world):
    h = HouseholdFactory(village=world.v1a, registration_no="H-UPD", head__name="户主甲")
    MemberFactory(household=h, name="配偶乙")
    return h


def member_items(household):
    return [
        {"id": m.pk, "name": m.name, "relation": m.relation, "is_head": m.is_head}
        for m in household.members.order_by("-is_head", "id")
    ]


def test_update_changes_fields_and_audits_what_changed(world, household):
    household_update(
        acting_user=world.township_officer, household=household, address="新地址 8 号", reason="核实"
    )
    household.refresh_from_db()
    assert household.address == "新地址 8 号"
    event = AuditEvent.objects.get(action="household.update")
    assert event.reason == "核实"
    assert event.data["changed"]["address"][1] == "新地址 8 号"


def test_update_replaces_the_member_list_keeping_numbers_not_retyped(world, household):
    head, spouse = household.members.order_by("-is_head", "id")
    old_number = spouse.id_number
    items = member_items(household)
    # The spouse becomes head, the old head leaves, a child is added.
    items = [
        {"id": spouse.pk, "name": "配偶乙", "relation": Member.Relation.HEAD, "is_head": True},
        member("孩子丙", relation=Member.Relation.CHILD),
    ]
    household_update(acting_user=world.cadre, household=household, members=items)
    members = list(household.members.order_by("-is_head", "id"))
    assert [(m.name, m.is_head) for m in members] == [("配偶乙", True), ("孩子丙", False)]
    assert members[0].pk == spouse.pk
    assert members[0].id_number == old_number
    assert not Member.objects.filter(pk=head.pk).exists()


def test_a_failed_update_changes_nothing(world, household):
    other = HouseholdFactory(village=world.v1a)
    taken = other.members.get().id_number
    before_members = [(m.pk, m.name, m.is_head, m.id_number_hash) for m in household.members.order_by("pk")]
    items = member_items(household)
    items[0]["name"] = "改名"
    items.append(member("新人", number=taken))
    e = refused(
        ApplicationError,
        household_update,
        acting_user=world.cadre,
        household=household,
        address="不应保存",
        members=items,
    )
    assert e.field == "members.2.id_number"
    household.refresh_from_db()
    assert household.address != "不应保存"
    assert [
        (m.pk, m.name, m.is_head, m.id_number_hash) for m in household.members.order_by("pk")
    ] == before_members


def test_update_may_not_move_a_household_out_of_the_users_area(world, household):
    e = refused(
        ApplicationError, household_update, acting_user=world.cadre, household=household, village=world.v1b
    )
    assert e.field == "village"


def test_update_refuses_a_member_of_another_household(world, household):
    stranger = HouseholdFactory(village=world.v1a).members.get()
    items = member_items(household) + [{"id": stranger.pk, "name": "外人", "relation": "other"}]
    e = refused(
        ApplicationError, household_update, acting_user=world.cadre, household=household, members=items
    )
    assert e.field == "members.2.id"


def test_update_out_of_the_users_area_or_by_a_wrong_role_is_refused(world, household):
    refused(NotPermitted, household_update, acting_user=world.other_cadre, household=household, address="x")
    refused(NotPermitted, household_update, acting_user=world.officer, household=household, address="x")
