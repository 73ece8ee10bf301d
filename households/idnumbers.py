"""Resident ID numbers (GB 11643-1999): validation, masking, encryption at rest and the keyed
hash used for uniqueness and exact search (DOMAIN §2, PIPL art.28)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
SOURCE = "GB 11643-1999; DOMAIN §2"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_SPACES = re.compile(r"\s+")


# Full-width digits and X, as a Chinese input method types them.
_FULL_WIDTH = str.maketrans({chr(0xFF10 + d): str(d) for d in range(10)} | {"Ｘ": "X", "ｘ": "X"})


def normalise(raw: str) -> str:
    """The canonical spelling: full-width digits and X become ASCII, spaces go, and a lower-case
    x becomes X. Without this the same person could be registered twice under two spellings
    with two different hashes. Nothing else is converted: other look-alike digits are refused."""
    return _SPACES.sub("", raw.translate(_FULL_WIDTH)).upper()


def looks_like(raw: str) -> bool:
    """Whether a search term has the shape of an ID number (used to search by exact number)."""
    return isinstance(raw, str) and bool(_SHAPE.fullmatch(normalise(raw)))


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: datetime.date
    is_male: bool


def parse(raw) -> IdInfo:
    """Validate and normalise an ID number, or raise ValidationError naming the broken rule.
    The area code is not checked: codes change, people keep their numbers."""
    if raw is None:
        raise ValidationError(_("Enter the ID number."), code="id_required")
    if not isinstance(raw, str):
        # Excel turns an 18-digit number into a float and keeps only 15 significant digits.
        raise ValidationError(
            _("The ID number must be text; a number cell loses digits (set the Excel column to Text)."),
            code="id_not_text",
        )
    number = normalise(raw)
    if not number:
        raise ValidationError(_("Enter the ID number."), code="id_required")
    if len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(n)d.") % {"n": len(number)},
            code="id_length",
        )
    # ASCII only: str.isdigit() would also accept digits such as "²" or "٣".
    if not _SHAPE.fullmatch(number):
        raise ValidationError(_("An ID number is 17 digits followed by a digit or X."), code="id_characters")
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("Characters 7-14 of the ID number are not a real birth date (%(d)s).") % {"d": number[6:14]},
            code="id_birth_date",
        ) from None
    if birth.year < 1900 or birth > timezone.localdate():
        raise ValidationError(
            _("Characters 7-14 of the ID number are not a possible birth date (%(d)s).")
            % {"d": number[6:14]},
            code="id_birth_date",
        )
    expected = check_char(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _("The ID number's check character is wrong (GB 11643): typed %(typed)s, expected %(expected)s.")
            % {"typed": number[17], "expected": expected},
            code="id_checksum",
        )
    return IdInfo(number=number, birth_date=birth, is_male=int(number[16]) % 2 == 1)


def age_on(birth_date: datetime.date, on: datetime.date) -> int:
    """Completed years on `on`; someone born on 29 February turns a year older on 1 March."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def mask(number: str) -> str:
    """`4503**********1234`: the form shown on every list and public notice."""
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


def _fernet() -> MultiFernet:
    keys = settings.ID_NUMBER_KEYS
    if not keys:
        raise ImproperlyConfigured("ID_NUMBER_KEYS is empty: ID numbers cannot be encrypted.")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(number: str) -> str:
    return _fernet().encrypt(number.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet decrypts with any listed key)."""
    return _fernet().rotate(token.encode()).decode()


def lookup_hash(number: str) -> str:
    key = settings.ID_NUMBER_HASH_KEY
    if not key:
        raise ImproperlyConfigured("ID_NUMBER_HASH_KEY is empty: ID numbers cannot be looked up.")
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()


def is_encrypted_with_newest_key(token: str) -> bool:
    """Whether a stored token already uses the first (newest) key, so rotation can skip it."""
    keys = settings.ID_NUMBER_KEYS
    if not keys:
        raise ImproperlyConfigured("ID_NUMBER_KEYS is empty: ID numbers cannot be encrypted.")
    newest = keys[0]
    try:
        Fernet(newest.encode() if isinstance(newest, str) else newest).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
