"""The borrower's account number at the lending bank (DOMAIN §3; P3 §3.6): interest is debited
from it and the subsidy paid to it, and it goes to the bank in the payment file. One check for
every place that takes one, so text that is not an account (or that a spreadsheet would run as a
formula) never reaches the bank."""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

MAX_LENGTH = 40
# Digits, with the spaces and hyphens people group them with; full-width digits become ASCII first.
_ACCOUNT = re.compile(r"[0-9][0-9 \-]*[0-9]|[0-9]")


def normalise_account_no(value, *, field: str = "account_no") -> str:
    """The account number as stored: NFKC-normalised and trimmed. Raises ApplicationError
    ("invalid", on `field`) for anything else than digits grouped by spaces or hyphens."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if len(text) > MAX_LENGTH or not _ACCOUNT.fullmatch(text):
        message = _(
            "An account number is made of digits (spaces and hyphens allowed), at most 40 characters."
        )
        raise ApplicationError(message, "invalid", {"fields": {field: [message]}}, field=field)
    return text
