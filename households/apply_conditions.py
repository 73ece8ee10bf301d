"""Which households could apply for a new loan now (the households list's "可申请" filter, issue
14): a rating in force that is not "none", not on the blacklist, and no open loan nor application
on its way (DOMAIN §2, §3). The last part is about loans, which this app may not import (apps
depend one way), so the loans app registers it here when Django starts (loans/apps.py), as the
risk fund registers its disbursement check with loans.

A condition is a function taking no arguments and answering a Q (or boolean expression) over
Household; the list applies them in its own query, so the filter stays one scoped query."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

_conditions: list[Callable[[], Q]] = []


def register(condition: Callable[[], Q]) -> None:
    """Add a condition; registering twice adds it once."""
    if condition not in _conditions:
        _conditions.append(condition)


def conditions() -> list[Q]:
    return [condition() for condition in _conditions]
