"""The five-level classification (五级分类) and the overdue buckets, each defined once (DOMAIN §5).

The floor is the best classification a loan may have for its days past due (the 2023 rule, with the
day limits from the county's policy profile); an extended loan is at least special mention. A
classification is only ever moved to the worse of two (`worse`): the ageing, a check and an
approved extension may make it worse than the floor, never better.

The buckets split days past due for the overdue list, its API and the loan book. Their keys are
the overdue list's and the API's (`gt360` for the last: it is in the API's enum); the loan book's
filter has spelled that bucket `360+` since it was written, and keeps doing so at its edge
(views_loans.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from policies.models import PolicyProfile

from .choices import CLASSIFICATION_ORDER, Classification


def worse(a: str, b: str) -> str:
    """The worse of two classifications."""
    return a if CLASSIFICATION_ORDER.index(a) >= CLASSIFICATION_ORDER.index(b) else b


def at_least(classification: str, floor: str) -> bool:
    """Whether `classification` is no better than `floor`."""
    return CLASSIFICATION_ORDER.index(classification) >= CLASSIFICATION_ORDER.index(floor)


def classification_floor(profile: PolicyProfile, days: int, *, extended: bool = False) -> str:
    """The best classification a loan `days` past due may have (DOMAIN §5, 2023 rule); at least
    special mention once it has been extended (展期)."""
    if days > profile.loss_after_days:
        floor = Classification.LOSS
    elif days > profile.doubtful_after_days:
        floor = Classification.DOUBTFUL
    elif days > profile.substandard_after_days:
        floor = Classification.SUBSTANDARD
    elif days > 0:
        floor = Classification.SPECIAL_MENTION
    else:
        floor = Classification.NORMAL
    if extended:
        floor = worse(floor, Classification.SPECIAL_MENTION)
    return floor


@dataclass(frozen=True)
class Bucket:
    key: str
    low: int
    high: int | None
    # The colour class of a days-past-due tag in this bucket (the pages' `tag` styles).
    tone: str

    @property
    def label(self) -> str:
        return f"{self.low}-{self.high}" if self.high else f">{self.low - 1}"

    def q(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}days_past_due__gte": self.low})
        if self.high is not None:
            q &= Q(**{f"{prefix}days_past_due__lte": self.high})
        return q

    def holds(self, days: int) -> bool:
        return days >= self.low and (self.high is None or days <= self.high)


BUCKETS = (
    Bucket("1-30", 1, 30, "warn"),
    Bucket("31-90", 31, 90, "bad"),
    Bucket("91-180", 91, 180, "bad"),
    Bucket("181-270", 181, 270, "bad severe"),
    Bucket("271-360", 271, 360, "bad severe"),
    Bucket("gt360", 361, None, "bad severe"),
)
BUCKET_BY_KEY = {b.key: b for b in BUCKETS}


def bucket_for(days: int) -> Bucket | None:
    """The bucket `days` past due fall in; None when the loan is not past due."""
    return next((b for b in BUCKETS if b.holds(days)), None)
