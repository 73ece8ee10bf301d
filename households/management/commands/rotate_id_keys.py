"""Re-encrypt every member's ID number with the newest key and recompute its keyed hash.

Rotation: put the new Fernet key first in ID_NUMBER_KEYS (keep the old ones after it), and/or
set a new ID_NUMBER_HASH_KEY, deploy, then run this command. Until it has finished, members
whose hash has not been recomputed cannot be found by ID number, so run it right after the
deploy. It works in batches, each in its own transaction, and can be run again after an
interruption: rows already on the newest key with a current hash are left alone. Once it
reports no failures, the old keys can be removed from ID_NUMBER_KEYS."""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from households import idnumbers
from households.models import Member


class Command(BaseCommand):
    help = "Re-encrypt ID numbers with the newest key in ID_NUMBER_KEYS and recompute their hashes."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        seen = reencrypted = rehashed = 0
        failed: list[int] = []
        last_pk = 0
        while True:
            with transaction.atomic():
                # Locked so an edit made during the rotation is not overwritten with an old value.
                batch = list(
                    Member.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", "id_number_encrypted", "id_number_hash")[:batch_size]
                )
                if not batch:
                    break
                changed = []
                for member in batch:
                    try:
                        number = idnumbers.decrypt(member.id_number_encrypted)
                    except InvalidToken:
                        failed.append(member.pk)
                        continue
                    new_hash = idnumbers.lookup_hash(number)
                    dirty = False
                    if not idnumbers.is_encrypted_with_newest_key(member.id_number_encrypted):
                        member.id_number_encrypted = idnumbers.encrypt(number)
                        reencrypted += 1
                        dirty = True
                    if new_hash != member.id_number_hash:
                        member.id_number_hash = new_hash
                        rehashed += 1
                        dirty = True
                    if dirty:
                        changed.append(member)
                Member.objects.bulk_update(changed, ["id_number_encrypted", "id_number_hash"])
                seen += len(batch)
                last_pk = batch[-1].pk
        self.stdout.write(
            f"{seen} members checked: {reencrypted} re-encrypted with the newest key, "
            f"{rehashed} hashes recomputed, {seen - len(failed)} now current."
        )
        if failed:
            raise CommandError(
                f"{len(failed)} members could not be decrypted with any key in ID_NUMBER_KEYS "
                f"(member ids: {', '.join(map(str, failed[:20]))}{' …' if len(failed) > 20 else ''})."
            )
