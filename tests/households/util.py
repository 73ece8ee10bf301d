"""Small helpers shared by the household tests."""

import datetime

from core.models import AuditEvent
from households import idnumbers
from households.models import BlacklistEntry, CreditRating, Household, Member
from tests.factories import id_number, unique_id_number


def counts() -> dict:
    """Row counts of everything a household write may touch, to show a refusal wrote nothing."""
    return {
        "households": Household.objects.count(),
        "members": Member.objects.count(),
        "ratings": CreditRating.objects.count(),
        "blacklist": BlacklistEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def member(name="张三", *, head=False, number=None, relation=None, **extra) -> dict:
    """A member as the services take it."""
    return {
        "name": name,
        "id_number": number or unique_id_number(40),
        "relation": relation or (Member.Relation.HEAD if head else Member.Relation.SPOUSE),
        "is_head": head,
        **extra,
    }


def number_with_check_x() -> str:
    """A valid number whose check character is X (so the lower-case x rule can be tested)."""
    for seq in range(1, 1000):
        number = id_number(datetime.date(1985, 7, 9), seq)
        if number.endswith("X"):
            return number
    raise AssertionError("no number with check character X")


def with_check(first17: str) -> str:
    return first17 + idnumbers.check_char(first17)
