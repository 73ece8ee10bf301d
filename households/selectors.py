"""Reads for households, ratings and the blacklist, always narrowed to what the user may see.
Querysets come with their joins and prefetches applied, so a page's query count does not grow
with its rows."""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from accounts.models import OrgUnit
from accounts.scoping import village_q, visible_regions, visible_villages
from core.sorting import SortableColumns, Sorting

from . import apply_conditions, idnumbers
from .models import BlacklistEntry, BlacklistRemovalRequest, CreditRating, Household, Member


def ratings_in_force(on: datetime.date) -> QuerySet[CreditRating]:
    """Ratings covering `on`, the one in force first: the latest start wins, so a re-rating
    replaces the earlier rating from its first day, even at grade "none"."""
    return CreditRating.objects.filter(valid_from__lte=on, valid_to__gte=on).order_by("-valid_from", "-id")


def active_blacklist() -> QuerySet[BlacklistEntry]:
    return BlacklistEntry.objects.filter(removed_at__isnull=True)


def household_list(*, user) -> QuerySet[Household]:
    """Households the user may see (scoped)."""
    return Household.objects.filter(village_q(user, "village")).select_related("village__parent")


def home_summary(*, user, today: datetime.date | None = None) -> dict:
    """Counts for the home page, all within the user's scope (two queries): households by status,
    rated and blacklisted, and the townships and villages the user sees."""
    today = today or timezone.localdate()
    valid_rating = CreditRating.objects.filter(
        household=OuterRef("pk"), valid_from__lte=today, valid_to__gte=today
    ).exclude(grade=CreditRating.Grade.NONE)
    blacklisted = BlacklistEntry.objects.filter(household=OuterRef("pk"), removed_at__isnull=True)
    counts = household_list(user=user).aggregate(
        total=Count("pk"),
        not_exited=Count("pk", filter=Q(poverty_status=Household.PovertyStatus.NOT_EXITED)),
        exited=Count("pk", filter=Q(poverty_status=Household.PovertyStatus.EXITED)),
        monitored=Count("pk", filter=Q(poverty_status__in=Household.MONITORED)),
        rated=Count("pk", filter=Q(Exists(valid_rating))),
        blacklisted=Count("pk", filter=Q(Exists(blacklisted))),
    )
    regions = visible_regions(user).aggregate(
        townships=Count("pk", filter=Q(kind="township")), villages=Count("pk", filter=Q(kind="village"))
    )
    return {**counts, **regions}


def with_list_data(qs: QuerySet[Household]) -> QuerySet[Household]:
    """Everything a list row shows in a fixed number of queries: members (head first),
    `current_ratings` (in force today, the first one current) and `active_blacklist`."""
    on = timezone.localdate()
    return qs.select_related("village__parent").prefetch_related(
        Prefetch("members", queryset=Member.objects.order_by("-is_head", "id")),
        Prefetch("ratings", queryset=ratings_in_force(on), to_attr="current_ratings"),
        Prefetch("blacklist_entries", queryset=active_blacklist(), to_attr="active_blacklist"),
    )


def household_choices(*, user=None) -> QuerySet[Household]:
    """The households an input may name: the user's (as `household_list`), or none before the
    request is known (an API field's class-level placeholder, which the schema reads its model
    from)."""
    return household_list(user=user) if user is not None else Household.objects.none()


def village_choices(*, user=None) -> QuerySet[OrgUnit]:
    """The villages an input may name: the user's (accounts.scoping), or none before the request
    is known (as `household_choices`). A village outside the user's area is answered exactly like
    one that does not exist."""
    return visible_villages(user) if user is not None else OrgUnit.objects.none()


# The households list's sortable columns (core/sorting.py): the head's name, the registration
# number, the place (township, village) and the credit line in force.
HOUSEHOLD_SORTS = SortableColumns(
    {
        "name": ("head_name", "registration_no"),
        "registration": ("registration_no",),
        "village": ("village__parent__code", "village__code", "registration_no"),
        "status": ("poverty_status", "village__code", "registration_no"),
        "credit_line": ("current_credit_limit", "registration_no"),
    },
    default="village",
)
# The grade filter's value for "no rating in force".
UNRATED = "unrated"


def household_search(
    *,
    user,
    q: str = "",
    village_id=None,
    status: str = "",
    grade: str = "",
    can_apply: bool = False,
    sorting: Sorting | None = None,
) -> QuerySet[Household]:
    """The households list: scoped; `q` is a member's name (part of it), a registration number
    (part of it) or a whole ID number, which is found through its keyed hash because the number
    itself is stored encrypted. Each household appears once.

    `grade` keeps the households whose rating in force today has that grade (`UNRATED`: none in
    force); `can_apply` those that could apply for a new loan now (apply_conditions). Both are
    judged in the list's own query, on the rating that is in force (the latest start wins), with
    the head's name and the credit line annotated for sorting (`sorting`, HOUSEHOLD_SORTS)."""
    today = timezone.localdate()
    in_force = ratings_in_force(today).filter(household=OuterRef("pk"))
    qs = household_list(user=user).annotate(
        head_name=Subquery(Member.objects.filter(household=OuterRef("pk"), is_head=True).values("name")[:1]),
        current_grade=Subquery(in_force.values("grade")[:1]),
        current_credit_limit=Subquery(in_force.values("credit_limit")[:1]),
    )
    q = (q or "").strip()
    if q:
        if idnumbers.looks_like(q):
            match = Q(
                pk__in=Member.objects.filter(
                    id_number_hash=idnumbers.lookup_hash(idnumbers.normalise(q))
                ).values("household_id")
            )
        else:
            # A subquery, not a join, so a household with two matching members is listed once.
            match = Q(pk__in=Member.objects.filter(name__icontains=q).values("household_id")) | Q(
                registration_no__icontains=q
            )
        qs = qs.filter(match)
    if village_id not in (None, ""):
        try:
            qs = qs.filter(village_id=int(village_id))
        except (TypeError, ValueError):
            return qs.none()
    if status:
        qs = qs.filter(poverty_status=status)
    if grade == UNRATED:
        qs = qs.filter(current_grade__isnull=True)
    elif grade:
        qs = qs.filter(current_grade=grade)
    if can_apply:
        qs = qs.filter(current_grade__isnull=False).exclude(current_grade=CreditRating.Grade.NONE)
        blacklisted = Exists(active_blacklist().filter(household=OuterRef("pk")))
        qs = qs.filter(~blacklisted, *apply_conditions.conditions())
    return HOUSEHOLD_SORTS.apply(with_list_data(qs), sorting or HOUSEHOLD_SORTS.default)


def household_detail(*, user, pk) -> Household:
    """One household with its members, rating history and blacklist history; 404 when it does
    not exist or lies outside the user's area (the two are indistinguishable on purpose)."""
    qs = household_list(user=user).prefetch_related(
        Prefetch("members", queryset=Member.objects.order_by("-is_head", "id")),
        Prefetch(
            "ratings",
            queryset=CreditRating.objects.select_related("branch", "rated_by", "profile").order_by(
                "-valid_from", "-id"
            ),
        ),
        Prefetch(
            "blacklist_entries",
            queryset=BlacklistEntry.objects.select_related("added_by", "removed_by").order_by("-added_at"),
        ),
    )
    try:
        return qs.get(pk=int(pk))
    except (Household.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def household_get(*, user, pk) -> Household:
    """One household without its history (for writes and sub-lists): scoped like the detail."""
    try:
        return household_list(user=user).get(pk=int(pk))
    except (Household.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def current_rating(household: Household, on: datetime.date | None = None) -> CreditRating | None:
    """The rating in force on `on` (today by default), or None. Its grade may be "none": the bank
    then found the household below the lowest band, and `is_valid_on` says it may not borrow."""
    today = timezone.localdate()
    on = on or today
    cached = getattr(household, "current_ratings", None)
    if cached is not None and on == today:
        return cached[0] if cached else None
    history = getattr(household, "_prefetched_objects_cache", {}).get("ratings")
    if history is not None:
        # The detail page prefetched the whole history: pick from it the same way the query would.
        covering = [r for r in history if r.valid_from <= on <= r.valid_to]
        return max(covering, key=lambda r: (r.valid_from, r.pk), default=None)
    return ratings_in_force(on).filter(household=household).first()


def active_blacklist_entry(household: Household) -> BlacklistEntry | None:
    cached = getattr(household, "active_blacklist", None)
    if cached is None:
        cached = getattr(household, "_prefetched_objects_cache", {}).get("blacklist_entries")
        if cached is not None:
            cached = [e for e in cached if e.is_active]
    if cached is not None:
        return cached[0] if cached else None
    return active_blacklist().filter(household=household).select_related("added_by").first()


def rating_list(*, household: Household) -> QuerySet[CreditRating]:
    return household.ratings.select_related("branch", "rated_by", "profile").order_by("-valid_from", "-id")


def blacklist_entries(
    *, user, active: bool | None = True, household_id=None, with_members: bool = False
) -> QuerySet[BlacklistEntry]:
    """Blacklist entries of households in the user's area; `active` None means all of them.
    `with_members` prefetches each household's members, so a list can name the head (`head_of`)
    without a query per row."""
    qs = BlacklistEntry.objects.filter(village_q(user, "household__village")).select_related(
        "household__village__parent", "added_by", "removed_by"
    )
    if with_members:
        qs = qs.prefetch_related("household__members")
    if active is True:
        qs = qs.filter(removed_at__isnull=True)
    elif active is False:
        qs = qs.filter(removed_at__isnull=False)
    if household_id not in (None, ""):
        try:
            qs = qs.filter(household_id=int(household_id))
        except (TypeError, ValueError):
            return qs.none()
    return qs.order_by("-added_at", "-id")


def blacklist_entry(*, user, pk) -> BlacklistEntry:
    try:
        return blacklist_entries(user=user, active=None).get(pk=int(pk))
    except (BlacklistEntry.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def member_get(*, household: Household, pk) -> Member:
    """One member of a household the caller has already fetched through a scoped selector; a
    member of another household answers 404 like one that does not exist."""
    try:
        return household.members.select_related("household").get(pk=int(pk))
    except (Member.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def identity_locked_ids(member_ids) -> set[int]:
    """The members among `member_ids` whose name and ID number are locked (DOMAIN §2): the
    borrower of an application past draft (whatever became of it: publicity notices, the bank's
    investigation and contracts already carry the name) or of any loan, imported ones included."""
    # Imported here: the loans app builds on households, not the other way round.
    from loans.models import Loan, LoanApplication
    from loans.workflow import State

    ids = [pk for pk in member_ids if pk]
    if not ids:
        return set()
    applied = LoanApplication.objects.filter(borrower_id__in=ids).exclude(state=State.DRAFT)
    borrowed = Loan.objects.filter(borrower_id__in=ids)
    return set(applied.values_list("borrower_id", flat=True)) | set(
        borrowed.values_list("borrower_id", flat=True)
    )


def head_of(household: Household) -> Member | None:
    """The head from prefetched members (no query when they are prefetched)."""
    for member in household.members.all():
        if member.is_head:
            return member
    return None


def blacklist_removal_requests(*, user, state: str | None = "pending") -> QuerySet[BlacklistRemovalRequest]:
    """Requests to take households of the user's area off the blacklist; `state` None means all."""
    qs = BlacklistRemovalRequest.objects.filter(village_q(user, "entry__household__village")).select_related(
        "entry__household__village__parent", "entry__added_by", "requested_by", "decided_by"
    )
    if state is not None:
        qs = qs.filter(state=state)
    return qs.order_by("-requested_at", "-id")


def blacklist_removal_request(*, user, pk) -> BlacklistRemovalRequest:
    try:
        return blacklist_removal_requests(user=user, state=None).get(pk=int(pk))
    except (BlacklistRemovalRequest.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404 from None


def pending_removal_request(entry: BlacklistEntry) -> BlacklistRemovalRequest | None:
    return (
        entry.removal_requests.filter(state=BlacklistRemovalRequest.State.PENDING)
        .select_related("requested_by")
        .first()
    )
