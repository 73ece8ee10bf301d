"""Checks that apps built on loans add to every disbursement (a first loan, an additional loan, a
renewal), run inside the disbursement's transaction after the application is locked and its
eligibility judged, before the loan is written. A check raises ApplicationError to refuse.

The risk fund's leverage cap (riskfund/services/leverage.py, DOMAIN §8) is one: loans may not
import riskfund (apps depend one way), so riskfund registers its check here when Django starts."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

_checks: list[Callable[..., None]] = []


def register(check: Callable[..., None]) -> None:
    """Add `check(application=..., amount=..., on_date=...)`; registering twice adds it once."""
    if check not in _checks:
        _checks.append(check)


def run(*, application, amount: Decimal, on_date: datetime.date) -> None:
    for check in _checks:
        check(application=application, amount=amount, on_date=on_date)
