"""What the eligibility rules (eligibility.py) read: the case of one loan, loaded once in a
fixed number of queries, with the household's load (what it already draws on, which the
application form's figures read too, so the two cannot disagree) and the application date the
borrower's age is taken on (DOMAIN §3)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import DecimalField, Exists, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from households import selectors as household_selectors
from households.models import CreditRating, Household, Member
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for

from .models import Loan, LoanApplication
from .workflow import IN_FLIGHT_STATES, State

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class HouseholdLoad:
    """What the household already draws on, counted against both its credit line and the
    household cap (DOMAIN §3 "amount"; P1 art.10, art.25)."""

    outstanding: Decimal  # its open loans' outstanding principal
    applied: Decimal  # its other in-flight applications, at the approved amount where approved
    other_member_busy: bool  # another member has an open loan or an application in flight

    @property
    def total(self) -> Decimal:
        return self.outstanding + self.applied


@dataclass(frozen=True)
class Case:
    """Everything the checks read, loaded once in a fixed number of queries."""

    household: Household
    borrower: Member
    amount: Decimal | None
    term_months: int
    purpose_category: str
    on_date: datetime.date  # the day of the action: the profile, the rating, the use-mode cutoff
    applied_on: datetime.date  # the application date: the borrower's age (DOMAIN §3)
    use_mode: str
    capacity_attested: bool
    bank_account_no: str
    entity_attested: bool
    county_id: int
    profile: PolicyProfile
    rating: CreditRating | None  # the one in force on on_date, whatever its grade
    blacklisted: bool
    load: HouseholdLoad

    @property
    def household_total(self) -> Decimal:
        return self.load.total


def money(value) -> Decimal | None:
    """The amount as a Decimal; None when it is not a number (the amount rules then fail)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def household_load(
    *, household: Household, borrower: Member | None = None, application: LoanApplication | None = None
) -> HouseholdLoad:
    """What the household already draws on: its open loans' outstanding and the amounts of its
    other in-flight applications, and whether a member other than `borrower` borrows (False
    when no borrower is given). One query whatever its history. The eligibility rules and the
    application form's figures both read it here, so they cannot disagree."""
    money = DecimalField(max_digits=14, decimal_places=2)
    loans = Loan.objects.filter(household=OuterRef("pk"), state__in=Loan.OPEN_STATES)
    applications = LoanApplication.objects.filter(household=OuterRef("pk"), state__in=IN_FLIGHT_STATES)
    if application is not None and application.pk is not None:
        # The application being judged is not its own competitor, nor is the loan it became.
        applications = applications.exclude(pk=application.pk)
        loans = loans.exclude(application_id=application.pk)
    if (
        application is not None
        and application.kind == LoanApplication.Kind.RENEWAL
        and application.related_loan_id is not None
    ):
        # A renewal replaces the loan it renews (closed at disbursement), so that loan's
        # outstanding is not counted twice against the household's line and cap (P1 art.25-26).
        loans = loans.exclude(pk=application.related_loan_id)
    loans_total = loans.order_by().values("household").annotate(total=Sum("outstanding")).values("total")
    # An approved application will be lent at its approved amount, not the amount asked for.
    applied_total = (
        applications.order_by()
        .values("household")
        .annotate(total=Sum(Coalesce("approved_amount", "amount")))
        .values("total")
    )
    if borrower is not None:
        other_busy = Exists(loans.exclude(borrower_id=borrower.pk)) | Exists(
            applications.exclude(borrower_id=borrower.pk)
        )
    else:
        other_busy = Value(False)
    row = (
        Household.objects.filter(pk=household.pk)
        .annotate(
            loans_total=Coalesce(Subquery(loans_total, output_field=money), Value(ZERO), output_field=money),
            applied_total=Coalesce(
                Subquery(applied_total, output_field=money), Value(ZERO), output_field=money
            ),
            other_busy=other_busy,
        )
        .values("loans_total", "applied_total", "other_busy")
        .get()
    )
    return HouseholdLoad(
        outstanding=row["loans_total"],
        applied=row["applied_total"],
        other_member_busy=bool(row["other_busy"]),
    )


def application_date(application: LoanApplication | None, on_date: datetime.date) -> datetime.date:
    """The date the borrower's age is taken on (DOMAIN §3): the day the application was
    submitted, kept for every later step; for a pre-check or a draft (one sent back to draft is
    submitted again, and dated again) it is the day of the check."""
    if application is not None and application.state != State.DRAFT and application.submitted_on is not None:
        return application.submitted_on
    return on_date


def load_case(
    *,
    household: Household,
    borrower: Member,
    amount,
    term_months: int,
    purpose_category: str,
    on_date: datetime.date,
    applied_on: datetime.date | None,
    use_mode: str,
    capacity_attested: bool,
    bank_account_no: str,
    entity_attested: bool,
    application: LoanApplication | None,
) -> Case:
    """Everything the rules read about this loan, under the household's county profile in force on
    `on_date`. Raises PolicyProfileMissing when the county has no profile in force on that day."""
    county = county_of(household.village)
    profile = profile_for(county=county, on_date=on_date)
    return Case(
        household=household,
        borrower=borrower,
        amount=money(amount),
        term_months=int(term_months or 0),
        purpose_category=str(purpose_category or ""),
        on_date=on_date,
        applied_on=applied_on or on_date,
        use_mode=str(use_mode or ""),
        capacity_attested=bool(capacity_attested),
        bank_account_no=bank_account_no or "",
        entity_attested=bool(entity_attested),
        county_id=county.pk,
        profile=profile,
        rating=household_selectors.current_rating(household, on_date),
        blacklisted=household_selectors.active_blacklist_entry(household) is not None,
        load=household_load(household=household, borrower=borrower, application=application),
    )
