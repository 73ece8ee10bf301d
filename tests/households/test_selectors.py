"""household_search and household_detail: scope, search by name / registration / ID number."""

import pytest
from django.http import Http404

from households import idnumbers
from households.models import Household
from households.selectors import household_detail, household_search
from tests.factories import HouseholdFactory, MemberFactory

from .util import number_with_check_x

pytestmark = pytest.mark.django_db


@pytest.fixture
def homes(world):
    return {
        "v1a": HouseholdFactory(village=world.v1a, registration_no="450312-A-001", head__name="黄大明"),
        "v1b": HouseholdFactory(village=world.v1b, registration_no="450312-B-001", head__name="黄小红"),
        "v2a": HouseholdFactory(
            village=world.v2a,
            registration_no="450312-C-001",
            head__name="陈明",
            poverty_status=Household.PovertyStatus.EXITED,
            exited_on="2020-12-01",
        ),
        "vz": HouseholdFactory(village=world.vz, registration_no="450323-Z-001", head__name="黄外县"),
    }


def regs(qs):
    return sorted(h.registration_no for h in qs)


def test_search_is_scoped(world, homes):
    assert regs(household_search(user=world.county_office)) == [
        "450312-A-001",
        "450312-B-001",
        "450312-C-001",
    ]
    assert regs(household_search(user=world.township_officer)) == ["450312-A-001", "450312-B-001"]
    assert regs(household_search(user=world.cadre)) == ["450312-A-001"]
    assert regs(household_search(user=world.officer)) == ["450312-A-001", "450312-B-001"]
    assert regs(household_search(user=world.other_cadre)) == ["450323-Z-001"]


def test_search_by_part_of_a_name_or_registration_number(world, homes):
    assert regs(household_search(user=world.county_office, q="黄")) == ["450312-A-001", "450312-B-001"]
    assert regs(household_search(user=world.county_office, q="明")) == ["450312-A-001", "450312-C-001"]
    assert regs(household_search(user=world.county_office, q="b-00")) == ["450312-B-001"]


def test_a_household_with_two_matching_members_is_listed_once(world, homes):
    MemberFactory(household=homes["v1a"], name="黄二明")
    assert regs(household_search(user=world.county_office, q="明")) == ["450312-A-001", "450312-C-001"]


def test_search_by_whole_id_number_through_the_hash(world, homes):
    number = number_with_check_x()
    MemberFactory(household=homes["v1b"], id_number=number)
    assert regs(household_search(user=world.county_office, q=number)) == ["450312-B-001"]
    assert regs(household_search(user=world.county_office, q=f" {number.lower()} ")) == ["450312-B-001"]
    # A number in another county is not found, and the masked form finds nothing.
    outsider = homes["vz"].members.get().id_number
    assert regs(household_search(user=world.county_office, q=outsider)) == []
    assert regs(household_search(user=world.county_office, q=idnumbers.mask(number))) == []


def test_filters_by_village_and_status(world, homes):
    assert regs(household_search(user=world.county_office, village_id=world.v1b.pk)) == ["450312-B-001"]
    assert regs(household_search(user=world.county_office, village_id=str(world.v1b.pk))) == ["450312-B-001"]
    assert regs(household_search(user=world.county_office, village_id=world.vz.pk)) == []
    assert regs(household_search(user=world.county_office, village_id="abc")) == []
    assert regs(household_search(user=world.county_office, status="exited")) == ["450312-C-001"]


def test_detail_answers_404_out_of_scope_exactly_as_when_absent(world, homes):
    assert household_detail(user=world.cadre, pk=homes["v1a"].pk) == homes["v1a"]
    for pk in (homes["v1b"].pk, homes["vz"].pk, 999999, "x"):
        with pytest.raises(Http404):
            household_detail(user=world.cadre, pk=pk)
