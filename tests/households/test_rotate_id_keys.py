"""manage.py rotate_id_keys: re-encrypts with the newest key and recomputes the keyed hash."""

import hashlib
import hmac
import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from households.models import Member
from households.selectors import household_search
from tests.factories import HouseholdFactory, MemberFactory

pytestmark = pytest.mark.django_db

NEW_KEY = Fernet.generate_key().decode()
NEW_HASH_KEY = "rotated-hash-key"


def run(**kwargs) -> str:
    out = io.StringIO()
    call_command("rotate_id_keys", stdout=out, **kwargs)
    return out.getvalue()


@pytest.fixture
def members(world):
    household = HouseholdFactory(village=world.v1a)
    MemberFactory(household=household)
    MemberFactory(household=household)
    return {m.pk: m.id_number for m in Member.objects.all()}


def test_rotation_reencrypts_every_row_with_the_new_key_and_rehashes(world, members):
    old_tokens = dict(Member.objects.values_list("pk", "id_number_encrypted"))
    with override_settings(
        ID_NUMBER_KEYS=[NEW_KEY, *settings.ID_NUMBER_KEYS], ID_NUMBER_HASH_KEY=NEW_HASH_KEY
    ):
        output = run(batch_size=2)
        assert "3 members checked: 3 re-encrypted with the newest key, 3 hashes recomputed" in output
        new = Fernet(NEW_KEY.encode())
        for m in Member.objects.all():
            assert m.id_number_encrypted != old_tokens[m.pk]
            assert new.decrypt(m.id_number_encrypted.encode()).decode() == members[m.pk]
            expected = hmac.new(NEW_HASH_KEY.encode(), members[m.pk].encode(), hashlib.sha256).hexdigest()
            assert m.id_number_hash == expected
        # Search by ID number works with the new hash key.
        number = next(iter(members.values()))
        assert household_search(user=world.county_office, q=number).count() == 1
        # Running it again changes nothing.
        assert "0 re-encrypted with the newest key, 0 hashes recomputed" in run()

    # With only the new key configured, the old key is no longer needed.
    with override_settings(ID_NUMBER_KEYS=[NEW_KEY], ID_NUMBER_HASH_KEY=NEW_HASH_KEY):
        assert {m.pk: m.id_number for m in Member.objects.all()} == members
    # And the old key alone can no longer read them.
    old = Fernet(settings.ID_NUMBER_KEYS[0].encode())
    with pytest.raises(InvalidToken):
        old.decrypt(Member.objects.first().id_number_encrypted.encode())


def test_only_the_hash_key_changed(world, members):
    with override_settings(ID_NUMBER_HASH_KEY=NEW_HASH_KEY):
        assert "0 re-encrypted with the newest key, 3 hashes recomputed" in run()


def test_a_row_no_key_can_read_is_reported(world, members):
    stranger = Fernet(Fernet.generate_key()).encrypt(b"450322199001010011").decode()
    bad = Member.objects.order_by("pk").last()
    Member.objects.filter(pk=bad.pk).update(id_number_encrypted=stranger)
    with override_settings(ID_NUMBER_KEYS=[NEW_KEY, *settings.ID_NUMBER_KEYS]):
        with pytest.raises(CommandError) as e:
            run(batch_size=1)
        assert str(bad.pk) in str(e.value)
        # The readable rows were still rotated, each batch in its own transaction.
        readable = Member.objects.exclude(pk=bad.pk)
        assert all(Fernet(NEW_KEY.encode()).decrypt(m.id_number_encrypted.encode()) for m in readable)
