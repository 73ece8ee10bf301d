from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import OrgUnit
from accounts.scoping import village_q

from .models import ApplicationHistory, Loan, LoanApplication, PublicityNotice
from .workflow import State


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


def application_detail(*, user, pk) -> LoanApplication:
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


def available_transitions(*, application: LoanApplication, user) -> list[str]:
    """The transitions this user may take now (state, role, branch and four-eyes)."""
    return [t.name for t in application.get_available_user_state_transitions(user)]


def loan_list(*, user) -> QuerySet[Loan]:
    """Disbursed loans the user may see (scoped through the household's village)."""
    return Loan.objects.filter(village_q(user, "household__village")).select_related(
        "household__village", "borrower", "branch"
    )
