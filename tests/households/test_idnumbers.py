"""GB 11643 ID numbers: every rule with the input that breaks it, masking, encryption at rest
and age from the birth date."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from households import idnumbers
from households.models import Member
from households.services.households import household_create
from tests.factories import id_number

from .util import member, number_with_check_x, with_check

VALID = id_number(datetime.date(1990, 1, 1), 11)


def code_of(raw) -> str:
    with pytest.raises(ValidationError) as e:
        idnumbers.parse(raw)
    return e.value.code


def test_a_valid_number_parses_with_birth_date_and_sex():
    info = idnumbers.parse(VALID)
    assert info.number == VALID
    assert info.birth_date == datetime.date(1990, 1, 1)
    assert info.is_male is True  # the 17th digit, 1, is odd
    female = id_number(datetime.date(1990, 1, 1), 12)
    assert idnumbers.parse(female).is_male is False


@pytest.mark.parametrize("raw", [VALID[:17], VALID + "1", VALID[:10]])
def test_length_other_than_18_is_refused(raw):
    assert code_of(raw) == "id_length"


@pytest.mark.parametrize(
    "raw",
    [
        VALID[:17] + "A",  # only a digit or X may close the number
        "45032A" + VALID[6:],  # a letter among the first 17
        "4503²2" + VALID[6:],  # a digit by str.isdigit(), not by GB 11643
        "4503-2" + VALID[6:],
    ],
)
def test_characters_other_than_17_digits_and_a_digit_or_x_are_refused(raw):
    assert code_of(raw) == "id_characters"


def test_a_wrong_check_character_is_refused_naming_the_expected_one():
    wrong = VALID[:17] + ("0" if VALID[17] != "0" else "1")
    with pytest.raises(ValidationError) as e:
        idnumbers.parse(wrong)
    assert e.value.code == "id_checksum"
    assert VALID[17] in e.value.messages[0]


def test_an_impossible_birth_date_is_refused():
    # 30 February 1999 passes the checksum but is not a date.
    assert code_of(with_check("45032219990230001")) == "id_birth_date"
    assert code_of(with_check("45032219991301001")) == "id_birth_date"


def test_a_birth_date_in_the_future_or_before_1900_is_refused():
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert code_of(id_number(tomorrow, 1)) == "id_birth_date"
    assert code_of(id_number(datetime.date(1899, 12, 31), 1)) == "id_birth_date"
    # Born today is possible (a newborn member).
    assert idnumbers.parse(id_number(timezone.localdate(), 1)).birth_date == timezone.localdate()


def test_lower_case_x_is_accepted_and_normalised():
    number = number_with_check_x()
    info = idnumbers.parse(number.lower())
    assert info.number == number
    assert info.number.endswith("X")


def test_spaces_and_full_width_characters_are_normalised():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in VALID)
    assert idnumbers.parse(full_width).number == VALID
    assert idnumbers.parse(f"  {VALID[:6]} {VALID[6:14]} {VALID[14:]} ").number == VALID


def test_an_unknown_area_code_is_accepted():
    # 999999 is no area at all; people keep their numbers when codes change.
    number = id_number(datetime.date(1970, 5, 5), 3, area="999999")
    assert idnumbers.parse(number).number == number


@pytest.mark.parametrize("raw", [int(VALID[:17] + "1"), 4.50322199001011e17, True])
def test_a_number_value_is_refused_as_not_text(raw):
    assert code_of(raw) == "id_not_text"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_number_is_refused(raw):
    assert code_of(raw) == "id_required"


def test_mask_keeps_the_first_and_last_four():
    assert idnumbers.mask("450322199001011234") == "4503**********1234"


def test_encryption_round_trip_and_hash_is_keyed():
    token = idnumbers.encrypt(VALID)
    assert VALID not in token
    assert idnumbers.decrypt(token) == VALID
    assert idnumbers.encrypt(VALID) != token  # Fernet tokens are randomised
    assert idnumbers.lookup_hash(VALID) == idnumbers.lookup_hash(VALID)
    assert len(idnumbers.lookup_hash(VALID)) == 64


@pytest.mark.django_db
def test_the_database_row_never_holds_the_plain_number(world):
    household = household_create(
        acting_user=world.cadre,
        registration_no="H-ENC-1",
        village=world.v1a,
        members=[member(head=True, number=VALID)],
    )
    stored = household.members.get()
    assert stored.id_number == VALID
    assert stored.id_number_masked == idnumbers.mask(VALID)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(m)::text FROM households_member m WHERE id = %s", [stored.pk])
        (row,) = cursor.fetchone()
    assert VALID not in row
    assert VALID[6:14] + VALID[14:] not in row
    assert idnumbers.mask(VALID) in row


def test_age_counts_completed_years_around_the_birthday():
    birth = datetime.date(2000, 6, 15)
    assert idnumbers.age_on(birth, datetime.date(2020, 6, 14)) == 19
    assert idnumbers.age_on(birth, datetime.date(2020, 6, 15)) == 20
    assert idnumbers.age_on(birth, datetime.date(2020, 6, 16)) == 20


def test_age_of_someone_born_on_29_february():
    birth = datetime.date(2004, 2, 29)
    assert idnumbers.age_on(birth, datetime.date(2022, 2, 28)) == 17
    assert idnumbers.age_on(birth, datetime.date(2022, 3, 1)) == 18
    assert idnumbers.age_on(birth, datetime.date(2024, 2, 28)) == 19
    assert idnumbers.age_on(birth, datetime.date(2024, 2, 29)) == 20


@pytest.mark.django_db
def test_a_members_age_comes_from_the_id_number(world):
    number = id_number(datetime.date(2004, 2, 29), 21)
    household = household_create(
        acting_user=world.cadre,
        registration_no="H-AGE-1",
        village=world.v1a,
        members=[member(head=True, number=number)],
    )
    m = Member.objects.get(household=household)
    assert m.birth_date == datetime.date(2004, 2, 29)
    assert m.age_on(datetime.date(2022, 2, 28)) == 17
    assert m.age_on(datetime.date(2022, 3, 1)) == 18
