"""Reads for the archives pages and APIs, always narrowed to the user's area: a household or a
document outside it answers 404 exactly like one that does not exist."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.scoping import village_q
from households.models import Household
from households.selectors import household_get
from loans.models import Loan

from .models import ArchiveDocument


def archive_household(*, user, pk) -> Household:
    """The household whose file is shown (scoped; 404 otherwise)."""
    return household_get(user=user, pk=pk)


def document_get(*, user, pk) -> ArchiveDocument:
    """One uploaded document of a household the user sees (404 otherwise)."""
    try:
        return ArchiveDocument.objects.select_related("household").get(
            village_q(user, "household__village"), pk=int(pk)
        )
    except (ArchiveDocument.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def household_loans(household: Household) -> QuerySet[Loan]:
    """The loans an upload may name: the household's own."""
    return Loan.objects.filter(household=household).order_by("id")
