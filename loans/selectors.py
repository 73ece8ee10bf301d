"""Every read the loan pages and the API make. Each function takes the acting user (or an object
already fetched through one that did) and answers a scoped queryset or object with what its
page or answer shows already joined; anything outside the user's area is absent, so a lookup
answers 404 (`Http404`) exactly like a row that does not exist."""

from __future__ import annotations

import bisect
import datetime

from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.shortcuts import get_object_or_404

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q, visible_villages
from core.sorting import Sorting
from households import selectors as household_selectors
from households.models import Household, Member
from policies.models import CalendarDay, CalendarYear

from . import waiting
from .classification import BUCKET_BY_KEY, BUCKETS, Bucket
from .list_sorts import APPLICATION_SORTS, LOAN_SORTS, OVERDUE_SORTS
from .models import (
    ApplicationHistory,
    BorrowerEvent,
    CheckPhoto,
    ClassificationChange,
    Extension,
    InsurancePayout,
    InsurancePolicy,
    InvestigationPhoto,
    Loan,
    LoanApplication,
    Objection,
    PostLoanCheck,
    PublicityNotice,
    Repayment,
    Settlement,
)
from .workflow import State

# ---------------------------------------------------------------------------------------------
# Applications


def application_list(*, user) -> QuerySet[LoanApplication]:
    """Applications the user may see (scoped through the household's village), ready for lists.
    A draft is the village's work in progress: the bank sees an application from submission on."""
    qs = LoanApplication.objects.filter(village_q(user, "household__village")).select_related(
        "household__village__parent", "borrower", "branch"
    )
    unit = getattr(user, "unit", None)
    if unit is not None and unit.kind in (OrgUnit.Kind.BRANCH, OrgUnit.Kind.BANK):
        qs = qs.exclude(state=State.DRAFT)
    return qs


def application_get(*, user, pk, household: Household | None = None) -> LoanApplication:
    """One application in the user's area (of `household` when given), for a write or a sub-list."""
    lookup = {"pk": pk} if household is None else {"pk": pk, "household": household}
    return get_object_or_404(application_list(user=user), **lookup)


def application_detail(*, user, pk) -> LoanApplication:
    """One application with everything its page and the API's detail show: the people who
    investigated, approved and entered it, its history, notices, objections and photos. The
    page and `GET applications/{id}/` read it here, so they cannot drift apart."""
    qs = (
        application_list(user=user)
        .select_related("investigated_by", "approved_by", "created_by")
        .prefetch_related(
            Prefetch("history", queryset=ApplicationHistory.objects.select_related("by")),
            Prefetch("notices", queryset=PublicityNotice.objects.order_by("start_on", "level")),
            "objections__raised_by",
            "photos",
        )
    )
    return get_object_or_404(qs, pk=pk)


def application_search(
    *, user, q: str = "", state: str = "", sorting: Sorting | None = None, todo: str = ""
) -> tuple[QuerySet[LoanApplication], dict]:
    """The application list's rows (newest first unless `sorting` says otherwise, of one state
    when asked) for a search on registration number or member name, and how many of the
    search's rows are in each state. `todo`: what waits (waiting.py), as the home page counts it."""
    qs = waiting.narrow_applications(application_list(user=user), todo)
    if q := (q or "").strip():
        # A subquery, not a join, so an application is listed once whatever its household's members.
        qs = qs.filter(
            Q(household__registration_no__icontains=q)
            | Q(household__in=Member.objects.filter(name__icontains=q).values("household_id"))
        )
    counts = dict(qs.order_by().values_list("state").annotate(n=Count("pk")))
    if state:
        qs = qs.filter(state=state)
    return APPLICATION_SORTS.apply(qs, sorting or APPLICATION_SORTS.default), counts


def application_rows(*, user, state: str = "", household=None) -> QuerySet[LoanApplication]:
    """The API's application list: scoped, with the loan's id joined, narrowed by state and household."""
    qs = application_list(user=user).select_related("loan")
    if state:
        qs = qs.filter(state=state)
    if household:
        qs = qs.filter(household_id=household)
    return qs


def bank_queue(*, user, role: str, state: str) -> QuerySet[LoanApplication]:
    """Applications in `state` at the user's branch (an approver: also the bank's branches below
    the user's unit), the earliest submitted first."""
    qs = application_list(user=user).filter(state=state)
    if role == Role.APPROVER:
        qs = qs.filter(Q(branch_id=user.unit_id) | Q(branch__parent_id=user.unit_id))
    else:
        qs = qs.filter(branch_id=user.unit_id)
    return qs.select_related("investigated_by", "approved_by").order_by("submitted_on", "id")


def application_loan(*, application: LoanApplication) -> Loan | None:
    """The loan a disbursed application became."""
    if application.state != State.DISBURSED:
        return None
    return Loan.objects.filter(application=application).first()


def objection_list(*, application: LoanApplication) -> QuerySet[Objection]:
    return application.objections.select_related("raised_by").order_by("-raised_at", "-id")


def photo_list(*, application: LoanApplication) -> QuerySet[InvestigationPhoto]:
    return application.photos.order_by("uploaded_at", "id")


def investigation_photo_get(*, user, pk, photo_pk) -> InvestigationPhoto:
    application = application_get(user=user, pk=pk)
    return get_object_or_404(InvestigationPhoto, pk=photo_pk, application=application)


def available_transitions(*, application: LoanApplication, user) -> list[str]:
    """The transitions this user may take now (state, role, branch and four-eyes)."""
    return [t.name for t in application.get_available_user_state_transitions(user)]


def household_choices(*, user) -> QuerySet[Household]:
    """Households an application may be entered for; nothing until the user is known."""
    return household_selectors.household_list(user=user)


def borrower_choices(*, user) -> QuerySet[Member]:
    """Members of the households in the user's area; nothing until the user is known."""
    return Member.objects.filter(household__in=household_selectors.household_list(user=user))


def household_member(*, household: Household, pk) -> Member | None:
    """A member of `household`, or None (the eligibility check answers that as a field error)."""
    return Member.objects.filter(pk=pk, household=household).first()


# ---------------------------------------------------------------------------------------------
# Publicity

# Notices read village → township → county, the order people walk past the boards.
LEVEL_ORDER = Case(
    *(When(level=level, then=Value(i)) for i, level in enumerate(PublicityNotice.Level.values)),
    output_field=IntegerField(),
)


def visible_village(*, user, pk) -> OrgUnit:
    return get_object_or_404(visible_villages(user), pk=pk)


def running_notices(*, user, village=None, level: str = "") -> QuerySet[PublicityNotice]:
    """Running notices of applications under publicity in the user's area (of one village and
    level when asked), for the printed notice: the earliest ending first."""
    qs = (
        PublicityNotice.objects.filter(
            status=PublicityNotice.Status.RUNNING,
            application__in=application_list(user=user).filter(state=State.PUBLICITY).values("pk"),
        )
        .select_related(
            "application__household__village__parent__parent",
            "application__borrower",
            "application__branch",
        )
        .order_by("end_on", "application__household__village__code", "application_id", LEVEL_ORDER)
    )
    if village is not None:
        qs = qs.filter(application__household__village=village)
    if level:
        qs = qs.filter(level=level)
    return qs


def under_notice(*, user, village=None, level: str = "") -> QuerySet[LoanApplication]:
    """Applications under publicity in the user's area, each with its running notices (of one
    level when asked) as `running`, the earliest ending first."""
    running = PublicityNotice.objects.filter(status=PublicityNotice.Status.RUNNING)
    if level:
        running = running.filter(level=level)
    qs = (
        application_list(user=user)
        .filter(state=State.PUBLICITY, pk__in=running.values("application_id"))
        .select_related("household__village__parent__parent")
        .annotate(first_end=Min("notices__end_on", filter=Q(notices__in=running)))
        .prefetch_related(Prefetch("notices", queryset=running.order_by(LEVEL_ORDER), to_attr="running"))
        .order_by("first_end", "household__village__code", "pk")
    )
    if village is not None:
        qs = qs.filter(household__village=village)
    return qs


def working_days_left(notices, today: datetime.date) -> dict[int, int | None]:
    """Working days from today to each notice's last day, today included (a notice ends at the
    end of its last day), counted on the calendar in one query. None where a year is missing."""
    if not notices:
        return {}
    last = max(n.end_on for n in notices)
    if last < today:
        return {n.pk: 0 for n in notices}
    covered = set(
        CalendarYear.objects.filter(year__gte=today.year, year__lte=last.year).values_list("year", flat=True)
    )
    days = list(
        CalendarDay.objects.filter(date__gte=today, date__lte=last, is_working_day=True)
        .order_by("date")
        .values_list("date", flat=True)
    )
    left = {}
    for n in notices:
        if n.end_on < today:
            left[n.pk] = 0
        elif any(year not in covered for year in range(today.year, n.end_on.year + 1)):
            left[n.pk] = None
        else:
            left[n.pk] = bisect.bisect_right(days, n.end_on)
    return left


# ---------------------------------------------------------------------------------------------
# Loans


def loan_list(*, user, state: str = "", household=None) -> QuerySet[Loan]:
    """Disbursed loans the user may see (scoped through the household's village), narrowed by
    state and household when asked."""
    qs = Loan.objects.filter(village_q(user, "household__village")).select_related(
        "household__village", "borrower", "branch"
    )
    if state:
        qs = qs.filter(state=state)
    if household:
        qs = qs.filter(household_id=household)
    return qs


def loan_get(*, user, pk) -> Loan:
    """One loan in the user's area, for a form about it (the branch's bank joined)."""
    return get_object_or_404(loan_list(user=user).select_related("branch__parent"), pk=pk)


def loan_search(
    *,
    user,
    q: str = "",
    state: str = "",
    classification: str = "",
    bucket=None,
    village=None,
    sorting: Sorting | None = None,
) -> QuerySet[Loan]:
    """The loan book: contract number or borrower, state, classification, an overdue bucket
    (`loans.classification.Bucket`) and village, in the order of `sorting` (LOAN_SORTS)."""
    qs = loan_list(user=user)
    if q := (q or "").strip():
        qs = qs.filter(Q(contract_no__icontains=q) | Q(borrower__name__icontains=q))
    if state:
        qs = qs.filter(state=state)
    if classification:
        qs = qs.filter(classification=classification)
    if bucket is not None:
        qs = qs.filter(bucket.q())
    if village:
        qs = qs.filter(household__village=village)
    return LOAN_SORTS.apply(qs, sorting or LOAN_SORTS.default)


# A loan's detail carries its latest settlements and repayments and the totals over all of them:
# three years of quarterly settlements fit, and the answer's size and time do not grow with the
# loan's history (the whole list belongs to a paged endpoint, or to `loan_history`).
RECENT = 12


def _totals(model, **sums):
    """One correlated subquery per figure, so the loan stays one row and one query."""
    rows = model.objects.filter(loan=OuterRef("pk")).order_by().values("loan")
    return {
        name: Subquery(rows.annotate(v=expr).values("v"), output_field=output)
        for name, (expr, output) in sums.items()
    }


def loan_detail(*, user, pk) -> Loan:
    """One loan as the loan page and `GET loans/{id}/` both show it: the people, places and the
    loan it continues joined, the totals of its settlements and repayments, and the latest
    `RECENT` of each (`recent_settlements`, `recent_repayments`, newest first)."""
    money = DecimalField(max_digits=14, decimal_places=2)
    qs = (
        loan_list(user=user)
        .select_related(
            "original_loan",
            "disbursed_by",
            "application",
            "household__village__parent__parent",
            "branch__parent",
        )
        .annotate(
            **_totals(
                Settlement,
                settlement_count=(Count("pk"), IntegerField()),
                settlement_interest_due=(Sum("interest_due"), money),
                settlement_interest_paid=(Sum("interest_paid"), money),
                settlement_penalty_paid=(Sum("penalty_paid"), money),
                settlement_last_paid_on=(Max("paid_on"), DateField()),
            ),
            **_totals(
                Repayment,
                repayment_count=(Count("pk"), IntegerField()),
                repayment_principal=(Sum("principal"), money),
            ),
        )
        .prefetch_related(
            Prefetch(
                "settlements",
                queryset=Settlement.objects.order_by("-period_start", "-id")[:RECENT],
                to_attr="recent_settlements",
            ),
            Prefetch(
                "repayments",
                queryset=Repayment.objects.order_by("-paid_on", "-id")[:RECENT],
                to_attr="recent_repayments",
            ),
        )
    )
    return get_object_or_404(qs, pk=pk)


def loan_history(*, loan: Loan, user=None) -> Loan:
    """Every list of the loan page on `loan` (from `loan_detail`), each one query whatever the
    length of the loan's history: settlements, repayments, reclassifications, checks,
    extensions, follow-up applications (only those `user` may open, #14), insurance policies
    and the borrower's events."""
    follow_ups = application_list(user=user) if user is not None else LoanApplication.objects.all()
    prefetch_related_objects(
        [loan],
        Prefetch(
            "settlements",
            queryset=Settlement.objects.select_related("recorded_by", "reviewed_by").order_by(
                "period_start", "id"
            ),
        ),
        Prefetch(
            "repayments", queryset=Repayment.objects.select_related("recorded_by").order_by("paid_on", "id")
        ),
        Prefetch(
            "classification_changes",
            queryset=ClassificationChange.objects.select_related("by").order_by("at", "id"),
        ),
        Prefetch("checks", queryset=PostLoanCheck.objects.select_related("officer").order_by("due_on", "id")),
        Prefetch(
            "extensions",
            queryset=Extension.objects.select_related("requested_by", "decided_by").order_by(
                "requested_on", "id"
            ),
        ),
        Prefetch(
            "follow_up_applications",
            queryset=follow_ups.select_related("loan", "created_by").order_by("created_at", "id"),
        ),
        Prefetch(
            "insurance_policies",
            queryset=InsurancePolicy.objects.select_related("recorded_by").order_by("starts_on", "id"),
        ),
        Prefetch(
            "borrower__events",
            queryset=BorrowerEvent.objects.select_related("recorded_by").order_by("occurred_on", "id"),
        ),
    )
    return loan


def loan_chain(*, loan: Loan) -> list[Loan]:
    """The chain (DOMAIN §6): the first loan and every loan continuing it (or this one), one query."""
    root_id = loan.original_loan_id or loan.pk
    return list(
        Loan.objects.filter(Q(pk=root_id) | Q(original_loan_id=root_id) | Q(original_loan_id=loan.pk))
        .only("pk", "contract_no", "disbursed_on", "maturity_on", "amount", "state", "original_loan_id")
        .order_by("disbursed_on", "id")
    )


def insurance_payouts(*, loan: Loan) -> QuerySet[InsurancePayout]:
    """The payouts on every policy of the loan, in one query, the earliest first."""
    return InsurancePayout.objects.filter(policy__loan=loan).order_by("paid_on", "id")


def insurance_policies(*, loan: Loan) -> QuerySet[InsurancePolicy]:
    return loan.insurance_policies.prefetch_related("payouts").order_by("starts_on", "id")


def insurance_policy_get(*, user, pk) -> InsurancePolicy:
    return get_object_or_404(
        InsurancePolicy.objects.filter(loan__in=loan_list(user=user).values("pk")), pk=pk
    )


def borrower_events(*, household: Household) -> QuerySet[BorrowerEvent]:
    return BorrowerEvent.objects.filter(member__household=household).select_related("member")


def settlement_list(*, loan: Loan) -> QuerySet[Settlement]:
    return loan.settlements.select_related("recorded_by").order_by("period_start")


def settlement_get(*, user, pk) -> Settlement:
    """A settlement of a loan in the user's area, with its loan's borrower and its reviewers."""
    return get_object_or_404(
        Settlement.objects.filter(loan__in=loan_list(user=user)).select_related(
            "loan__borrower", "recorded_by", "reviewed_by"
        ),
        pk=pk,
    )


def repayment_list(*, loan: Loan) -> QuerySet[Repayment]:
    return loan.repayments.select_related("recorded_by").order_by("paid_on", "id")


def extension_list(*, loan: Loan) -> QuerySet[Extension]:
    return loan.extensions.select_related("requested_by", "decided_by").order_by("requested_on", "id")


def extension_get(*, user, pk) -> Extension:
    return get_object_or_404(Extension.objects.filter(loan__in=loan_list(user=user).values("pk")), pk=pk)


def overdue_list(*, user, bucket: str = "") -> QuerySet[Loan]:
    """Open loans past due in the user's area, the longest overdue first."""
    qs = loan_list(user=user).filter(state__in=Loan.OPEN_STATES, days_past_due__gt=0)
    if bucket in BUCKET_BY_KEY:
        qs = qs.filter(BUCKET_BY_KEY[bucket].q())
    return qs.order_by("-days_past_due", "pk")


def overdue_bucket_counts(*, user) -> list[tuple[Bucket, int]]:
    """How many loans fall in each bucket, in one query."""
    totals = (
        overdue_list(user=user)
        .order_by()
        .aggregate(**{f"b{i}": Count("pk", filter=b.q()) for i, b in enumerate(BUCKETS)})
    )
    return [(b, totals[f"b{i}"]) for i, b in enumerate(BUCKETS)]


def overdue_loans(*, user, bucket: str = "", sorting: Sorting | None = None) -> QuerySet[Loan]:
    """The overdue list's page rows: `overdue_list` with the township joined, in the order of
    `sorting` (OVERDUE_SORTS)."""
    qs = overdue_list(user=user, bucket=bucket).select_related(
        "household__village__parent", "borrower", "branch"
    )
    return OVERDUE_SORTS.apply(qs, sorting or OVERDUE_SORTS.default)


# ---------------------------------------------------------------------------------------------
# Post-loan checks


# How soon a check counts as due (the list's first tab), and the list's two tabs.
DUE_SOON_DAYS = 30


class Status:
    DUE = "due"
    OVERDUE = "overdue"
    CHOICES = (DUE, OVERDUE)


def check_list(*, user) -> QuerySet[PostLoanCheck]:
    """Checks of open loans in the user's area (bank staff: the townships their branch serves;
    cadres: their village), with what a list row shows already joined."""
    return (
        PostLoanCheck.objects.filter(
            village_q(user, "loan__household__village"), loan__state__in=Loan.OPEN_STATES
        )
        .select_related("loan__household__village__parent", "loan__borrower", "loan__branch", "officer")
        .prefetch_related(Prefetch("photos", queryset=CheckPhoto.objects.order_by("id")))
    )


def due_q(on_date: datetime.date, status: str = "") -> Q:
    soon = on_date + datetime.timedelta(days=DUE_SOON_DAYS)
    if status == Status.OVERDUE:
        return Q(due_on__lt=on_date)
    if status == Status.DUE:
        return Q(due_on__gte=on_date, due_on__lte=soon)
    return Q(due_on__lte=soon)


def check_status(check: PostLoanCheck, on_date: datetime.date) -> str:
    """Which of the checks list's tabs an open check is on (`due_q` in Python): `overdue` past
    its due date, `due` within 30 days, else "" (done, or not due yet)."""
    if check.done_on is not None:
        return ""
    if check.due_on < on_date:
        return Status.OVERDUE
    if check.due_on <= on_date + datetime.timedelta(days=DUE_SOON_DAYS):
        return Status.DUE
    return ""


def checks_due(*, user, on_date: datetime.date, status: str = "") -> QuerySet[PostLoanCheck]:
    """Open checks due within 30 days (`due`), past their due date (`overdue`), or both (no
    status), in the user's area; the earliest due first."""
    return (
        check_list(user=user)
        .filter(done_on__isnull=True)
        .filter(due_q(on_date, status))
        .order_by("due_on", "pk")
    )


def checks_due_counts(*, user, on_date: datetime.date) -> dict[str, int]:
    """How many checks are due soon and overdue, in one query."""
    qs = check_list(user=user).filter(done_on__isnull=True)
    return qs.aggregate(
        due=Count("pk", filter=due_q(on_date, Status.DUE)),
        overdue=Count("pk", filter=due_q(on_date, Status.OVERDUE)),
    )


def check_get(*, user, pk) -> PostLoanCheck:
    """A check of an open loan in the user's area (`check_list`), with what its form shows joined."""
    return get_object_or_404(check_list(user=user), pk=pk)


def check_photo_get(*, user, pk, photo_pk) -> CheckPhoto:
    check = get_object_or_404(PostLoanCheck.objects.filter(pk__in=check_list(user=user).values("pk")), pk=pk)
    return get_object_or_404(CheckPhoto, pk=photo_pk, post_loan_check=check)
