"""The checklist of one household's file (DOMAIN §9): for every item, whether the file holds it.

Household items (archives.models.HOUSEHOLD_ITEMS) are kept once per household, the others once
per loan (and the application form and investigation photos once per application not yet a
loan). An item is "generated" when the system itself holds the record it stands for (the rating,
the application, the classification history, the done post-loan checks), "present" when a
document was uploaded (or, for photos, when investigation or check photos exist: they are linked,
never copied), and "missing" otherwise. `checklist_many` reads any number of households in a fixed
number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse

from households.models import CreditRating
from loans.models import ClassificationChange, InvestigationPhoto, Loan, LoanApplication
from loans.models_postloan import CheckPhoto, PostLoanCheck

from .models import HOUSEHOLD_ITEMS, ArchiveDocument, Item

PRESENT, GENERATED, MISSING = "present", "generated", "missing"

LOAN_ITEMS = tuple(item for item in Item if item not in HOUSEHOLD_ITEMS)


@dataclass
class Photo:
    url: str
    when: object
    by: object


@dataclass
class Row:
    item: str
    label: str
    loan: Loan | None
    status: str
    when: object = None
    by: object = None
    documents: list = field(default_factory=list)
    photos: list = field(default_factory=list)
    application: LoanApplication | None = None


def prefetches() -> list:
    """What `checklist` reads of a household, for prefetch_related(_objects)."""
    return [
        Prefetch(
            "ratings", queryset=CreditRating.objects.select_related("rated_by").order_by("-rated_at", "-id")
        ),
        Prefetch(
            "archive_documents",
            queryset=ArchiveDocument.objects.select_related("uploaded_by").order_by("uploaded_at", "id"),
        ),
        Prefetch(
            "applications",
            queryset=LoanApplication.objects.select_related("created_by").order_by("created_at", "id"),
        ),
        Prefetch(
            "applications__photos",
            queryset=InvestigationPhoto.objects.select_related("uploaded_by").order_by("uploaded_at", "id"),
        ),
        Prefetch(
            "loans",
            queryset=Loan.objects.select_related("borrower").order_by("id"),
        ),
        Prefetch(
            "loans__checks",
            queryset=PostLoanCheck.objects.select_related("officer").order_by("due_on", "id"),
        ),
        Prefetch(
            "loans__checks__photos",
            queryset=CheckPhoto.objects.select_related("uploaded_by").order_by("uploaded_at", "id"),
        ),
        Prefetch(
            "loans__classification_changes",
            queryset=ClassificationChange.objects.select_related("by").order_by("at", "id"),
        ),
    ]


def _latest(docs):
    last = docs[-1]
    return last.uploaded_at, last.uploaded_by


def _row(item, loan, docs, record=None, photos=(), application=None) -> Row:
    label = Item(item).label
    if record is not None:
        when, by = record
        return Row(item, label, loan, GENERATED, when, by, docs, list(photos), application)
    if docs or photos:
        stamps = [(d.uploaded_at, d.uploaded_by) for d in docs] + [(p.when, p.by) for p in photos]
        when, by = max(stamps, key=lambda s: s[0])
        return Row(item, label, loan, PRESENT, when, by, docs, list(photos), application)
    return Row(item, label, loan, MISSING, None, None, [], [], application)


def _investigation_photos(application) -> list[Photo]:
    if application is None:
        return []
    return [
        Photo(reverse("loans:investigation_photo", args=[application.pk, p.pk]), p.uploaded_at, p.uploaded_by)
        for p in application.photos.all()
    ]


def _rows(household) -> list[Row]:
    docs: dict[tuple, list] = {}
    for d in household.archive_documents.all():
        docs.setdefault((d.item, d.loan_id), []).append(d)
    rows = []
    ratings = list(household.ratings.all())
    for item in HOUSEHOLD_ITEMS:
        record = None
        if item == Item.RATING_FORM and ratings:
            record = (ratings[0].rated_at, ratings[0].rated_by)
        rows.append(_row(item, None, docs.get((item, None), []), record))
    applications = {a.pk: a for a in household.applications.all()}
    for loan in household.loans.all():
        application = applications.pop(loan.application_id, None) if loan.application_id else None
        checks = list(loan.checks.all())
        done = [c for c in checks if c.done_on]
        changes = list(loan.classification_changes.all())
        for item in LOAN_ITEMS:
            found = docs.get((item, loan.pk), [])
            record, photos = None, []
            if item == Item.APPLICATION_FORM and application is not None:
                record = (application.created_at, application.created_by)
            elif item == Item.CLASSIFICATION_FORM and changes:
                record = (changes[-1].at, changes[-1].by)
            elif item == Item.CHECK_REPORT and done:
                last = max(done, key=lambda c: (c.done_on, c.pk))
                record = (last.done_on, last.officer)
            elif item == Item.PHOTOS:
                photos = _investigation_photos(application) + [
                    Photo(reverse("loans:check_photo", args=[c.pk, p.pk]), p.uploaded_at, p.uploaded_by)
                    for c in checks
                    for p in c.photos.all()
                ]
            rows.append(_row(item, loan, found, record, photos, application))
    # Applications that did not (yet) become a loan: their form and investigation photos.
    for application in applications.values():
        rows.append(
            _row(
                Item.APPLICATION_FORM,
                None,
                [],
                (application.created_at, application.created_by),
                application=application,
            )
        )
        rows.append(_row(Item.PHOTOS, None, [], None, _investigation_photos(application), application))
    return rows


def checklist(household) -> list[Row]:
    """One household's checklist: household items first, then each loan's items."""
    prefetch_related_objects([household], *prefetches())
    return _rows(household)


def checklist_many(households) -> dict[int, list[Row]]:
    """{household id: rows} for many households in a fixed number of queries."""
    households = list(households)
    prefetch_related_objects(households, *prefetches())
    return {h.pk: _rows(h) for h in households}


@dataclass
class Group:
    """Rows shown together: the household's own items, one loan's, or one application's."""

    loan: Loan | None
    application: LoanApplication | None
    rows: list


def groups(rows: list[Row]) -> list[Group]:
    out: list[Group] = []
    for row in rows:
        key = (row.loan, None if row.loan else row.application)
        if not out or (out[-1].loan, out[-1].application) != key:
            out.append(Group(*key, []))
        out[-1].rows.append(row)
    return out
