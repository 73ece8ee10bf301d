"""Writes for loan applications: every step is one atomic function that locks the application
row, takes the transition, writes the history row and an audit record, and does its side
effects (notices, the loan record). A failed step leaves the database as it was."""

from __future__ import annotations

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.models import OrgUnit, Role
from core import fsm, uploads
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from households.models import Household, Member
from policies import citations
from policies.models import Rate
from policies.selectors import add_working_days, contract_rate_for, county_of, lpr_stale_on, profile_for

from .. import disbursement_checks, eligibility, lifecycle, notices
from ..accounts import normalise_account_no
from ..exceptions import TransitionNotAllowed
from ..models import ApplicationHistory, InvestigationPhoto, Loan, LoanApplication, Objection, PublicityNotice
from ..workflow import State

EDITABLE_FIELDS = (
    "borrower",
    "amount",
    "term_months",
    "purpose_category",
    "purpose_detail",
    "use_mode",
    "entity_name",
    "entity_attested",
    "capacity_attested",
    "bank_account_no",
    "consent_publicity",
    "consent_credit_query",
)


def _today() -> datetime.date:
    return timezone.localdate()


# Joined when an application is locked: the rules and the permissions read them.
_RELATED = ("household__village__parent__parent", "borrower", "branch__parent")


def _lock(application: LoanApplication) -> LoanApplication:
    """Re-read the application under a row lock (core/fsm.py): a second request for the same
    application waits until the first commits, then sees the new state and is refused (409)."""
    return fsm.lock(application, related=_RELATED)


def _denied(app: LoanApplication, name: str, user) -> NotPermitted:
    return NotPermitted(_("Your role or unit may not take this step on this application."))


def _guard(app: LoanApplication, name: str, acting_user, *, system: bool = False) -> None:
    """Refuse transition `name` from the wrong state (409) or to the wrong role or unit (403).
    Services call this first, before judging any rule, so the answer to someone who may not
    take the step never depends on, nor reveals, the household's eligibility or the form."""
    fsm.guard(app, name, acting_user, system=system, not_allowed=TransitionNotAllowed, denied=_denied)


def _take(app: LoanApplication, name: str, acting_user, comment: str = "", *, system: bool = False) -> str:
    """Take transition `name` on a locked application and record it: its history row and an
    audit record. Returns the old state."""

    def record(app: LoanApplication, name: str, from_state: str, by) -> None:
        ApplicationHistory.objects.create(
            application=app,
            transition=name,
            from_state=from_state,
            to_state=app.state,
            by=by,
            comment=comment,
        )
        audit(
            actor=by,
            action=f"application.{name}",
            obj=app,
            reason=comment,
            data={"from": from_state, "to": app.state},
        )

    return fsm.take(
        app, name, acting_user, system=system, record=record, not_allowed=TransitionNotAllowed, denied=_denied
    )


def branch_for(household: Household) -> OrgUnit | None:
    """The branch serving the household's township (DOMAIN §4.4)."""
    return (
        OrgUnit.objects.filter(kind=OrgUnit.Kind.BRANCH, served_townships=household.village.parent_id)
        .order_by("code")
        .first()
    )


def _check_borrower(household: Household, borrower: Member) -> None:
    if borrower is None or borrower.household_id != household.pk:
        raise ApplicationError(
            _("The borrower must be a member of this household."), "invalid", field="borrower"
        )


@transaction.atomic
def application_create(*, acting_user, household: Household, borrower: Member, **fields) -> LoanApplication:
    """A draft application entered by the household's village cadre (P1 art.11)."""
    if not (acting_user.has_role(Role.VILLAGE_CADRE) and acting_user.unit_id == household.village_id):
        raise NotPermitted(_("Only a cadre of the household's village enters its applications."))
    _check_borrower(household, borrower)
    app = LoanApplication(
        household=household,
        borrower=borrower,
        created_by=acting_user,
        branch=branch_for(household),
        **{k: v for k, v in fields.items() if k in EDITABLE_FIELDS and k != "borrower"},
    )
    # `state` is a protected FSMField: clean_fields() would assign it back, which django-fsm
    # refuses (AttributeError). Only transitions set it, so it is left out of validation.
    app.full_clean(exclude=["state"])
    app.save()
    audit(actor=acting_user, action="application.create", obj=app, data={"amount": str(app.amount)})
    return app


@transaction.atomic
def application_update(*, acting_user, application: LoanApplication, **fields) -> LoanApplication:
    app = _lock(application)
    if app.state != State.DRAFT:
        raise TransitionNotAllowed(app, "edit")
    if not (acting_user.has_role(Role.VILLAGE_CADRE) and acting_user.unit_id == app.household.village_id):
        raise NotPermitted(_("Only a cadre of the household's village edits its applications."))
    for key, value in fields.items():
        if key in EDITABLE_FIELDS:
            setattr(app, key, value)
    _check_borrower(app.household, app.borrower)
    app.full_clean(exclude=["state"])
    app.save()
    audit(actor=acting_user, action="application.update", obj=app, data={"fields": sorted(fields)})
    return app


@transaction.atomic
def application_submit(*, acting_user, application: LoanApplication, comment: str = "") -> LoanApplication:
    app = _lock(application)
    _guard(app, "submit", acting_user)
    today = _today()
    eligibility.require_application_eligible(app, on_date=today, stage="submission")
    if app.branch_id is None:
        app.branch = branch_for(app.household)
    if app.branch_id is None:
        raise rule_failed(
            "serving_branch",
            _("No bank branch serves this township yet; an administrator must assign one."),
            "DOMAIN §4.4: the branch serving the household's township accepts the application",
        )
    app.submitted_on = today
    _take(app, "submit", acting_user, comment)
    return app


def _reasoned_step(name: str, *, acting_user, application, comment: str, final: bool) -> LoanApplication:
    """A step that needs nothing but a reason: sending back, refusing, withdrawing. A final
    refusal also keeps the reason on the application."""
    app = _lock(application)
    _guard(app, name, acting_user)
    fsm.require_reason(comment, "comment")
    if final:
        app.decision_reason = comment
    _take(app, name, acting_user, comment)
    return app


@transaction.atomic
def application_send_back(*, acting_user, application, comment: str = "") -> LoanApplication:
    app = _reasoned_step(
        "send_back", acting_user=acting_user, application=application, comment=comment, final=False
    )
    notices.sent_back(app, comment)
    return app


@transaction.atomic
def application_village_reject(*, acting_user, application, comment: str = "") -> LoanApplication:
    return _reasoned_step(
        "village_reject", acting_user=acting_user, application=application, comment=comment, final=True
    )


@transaction.atomic
def application_withdraw(*, acting_user, application, comment: str = "") -> LoanApplication:
    app = _reasoned_step(
        "withdraw", acting_user=acting_user, application=application, comment=comment, final=True
    )
    PublicityNotice.objects.filter(application=app, status=PublicityNotice.Status.RUNNING).update(
        status=PublicityNotice.Status.CANCELLED
    )
    return app


def _require_consents(app: LoanApplication) -> None:
    """PIPL art.25: publishing personal information needs the person's separate consent."""
    failed = []
    if not app.consent_publicity:
        failed.append(("consent_publicity", _("The borrower has not consented to publicity.")))
    if not app.consent_credit_query:
        failed.append(
            ("consent_credit_query", _("The borrower has not consented to the credit report query."))
        )
    if failed:
        raise ApplicationError(
            failed[0][1],
            "rule_failed",
            {
                "rules": [
                    {"rule": r, "message": str(m), "source": "PIPL art.25; DOMAIN §4.3"} for r, m in failed
                ]
            },
            field=failed[0][0],
        )


@transaction.atomic
def application_village_approve(*, acting_user, application, comment: str = "") -> LoanApplication:
    """Village review passed (P1 art.12): notices go up at every level the profile requires,
    each for its number of working days counted on the working-day calendar."""
    app = _lock(application)
    _guard(app, "village_approve", acting_user)
    _require_consents(app)
    today = _today()
    eligibility.require_application_eligible(app, on_date=today, stage="village_approval")
    profile = profile_for(county=county_of(app.household.village), on_date=today)
    end = add_working_days(today, profile.publicity_days)
    _take(app, "village_approve", acting_user, comment)
    PublicityNotice.objects.bulk_create(
        PublicityNotice(
            application=app,
            level=level,
            start_on=today,
            end_on=end,
            working_days=profile.publicity_days,
            posted_by=acting_user,
        )
        for level in profile.publicity_levels
    )
    return app


@transaction.atomic
def objection_lodge(*, acting_user, application, text: str, objector: str = "") -> Objection:
    """An objection during publicity suspends the application and returns it to village review."""
    app = _lock(application)
    _guard(app, "object", acting_user)
    fsm.require_reason(text, "text")
    level = _objection_level(acting_user)
    notice = app.notices.filter(status=PublicityNotice.Status.RUNNING, level=level).first()
    _take(app, "object", acting_user, text)
    objection = Objection.objects.create(
        application=app, notice=notice, raised_by=acting_user, objector=objector, text=text
    )
    app.notices.filter(status=PublicityNotice.Status.RUNNING).update(status=PublicityNotice.Status.SUSPENDED)
    audit(actor=acting_user, action="application.objection", obj=objection, reason=text)
    notices.objection_filed(app, text)
    return objection


def _objection_level(user) -> str:
    if user.has_role(Role.COUNTY_OFFICE):
        return PublicityNotice.Level.COUNTY
    if user.has_role(Role.TOWNSHIP_OFFICER):
        return PublicityNotice.Level.TOWNSHIP
    return PublicityNotice.Level.VILLAGE


def publicity_end_due(*, on_date: datetime.date | None = None) -> list[int]:
    """Move every application whose notices all ended without objection on to bank acceptance.
    A notice ends at the end of its last day, so it is over once that day has passed. Each
    application commits on its own; running this twice changes nothing the second time."""
    on_date = on_date or _today()
    # Only the running notices count: the notices of an earlier round, suspended by an objection
    # before the application was approved again, must not hold the new round back for ever.
    live = PublicityNotice.objects.filter(status=PublicityNotice.Status.RUNNING)
    candidates = (
        LoanApplication.objects.filter(state=State.PUBLICITY, pk__in=live.values("application_id"))
        .exclude(pk__in=live.filter(end_on__gte=on_date).values("application_id"))
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    moved = []
    for pk in candidates:
        with transaction.atomic():
            app = _lock(LoanApplication(pk=pk))
            running = app.notices.filter(status=PublicityNotice.Status.RUNNING)
            # Re-checked under the lock: an objection may have come in meanwhile.
            if (
                app.state != State.PUBLICITY
                or not running.exists()
                or running.filter(end_on__gte=on_date).exists()
            ):
                continue
            running.update(status=PublicityNotice.Status.ENDED)
            _take(app, "end_publicity", None, _("Publicity ended without objection."), system=True)
            moved.append(pk)
    return moved


@transaction.atomic
def application_accept(
    *,
    acting_user,
    application,
    findings: str,
    investigated_on: datetime.date | None = None,
    comment: str = "",
) -> LoanApplication:
    """Bank acceptance with the pre-loan investigation (受理, 贷前调查)."""
    app = _lock(application)
    _guard(app, "accept", acting_user)
    fsm.require_reason(findings, "findings")
    investigated_on = investigated_on or _today()
    if investigated_on > _today() or (app.submitted_on and investigated_on < app.submitted_on):
        raise ApplicationError(
            _("The investigation date must be between the submission (%(submitted)s) and today.")
            % {"submitted": app.submitted_on},
            "invalid",
            field="investigated_on",
        )
    app.investigated_by = acting_user
    app.investigated_on = investigated_on
    app.investigation_findings = findings
    _take(app, "accept", acting_user, comment)
    return app


@transaction.atomic
def application_decline(*, acting_user, application, comment: str = "") -> LoanApplication:
    return _reasoned_step(
        "decline", acting_user=acting_user, application=application, comment=comment, final=True
    )


@transaction.atomic
def investigation_photo_add(*, acting_user, application, image, caption: str = "") -> InvestigationPhoto:
    app = _lock(application)
    if app.state not in (State.BANK_ACCEPTANCE, State.BANK_APPROVAL):
        raise TransitionNotAllowed(app, "photo")
    if not (acting_user.has_role(Role.LOAN_OFFICER) and acting_user.unit_id == app.branch_id):
        raise NotPermitted(_("Only a loan officer of the branch adds investigation photos."))
    # Stored re-encoded, without the metadata (GPS) the upload carried (core/uploads.py).
    image = uploads.photo_for_storage(image)
    photo = InvestigationPhoto(application=app, image=image, caption=caption, uploaded_by=acting_user)
    photo.full_clean()
    photo.save()
    audit(actor=acting_user, action="application.photo", obj=app, data={"photo": photo.pk})
    return photo


@transaction.atomic
def application_approve(
    *,
    acting_user,
    application,
    amount: Decimal | None = None,
    term_months: int | None = None,
    comment: str = "",
) -> LoanApplication:
    """Review and approval (审查审批) by an approver who did not investigate (four-eyes)."""
    app = _lock(application)
    if can_proceed(app.approve) and app.investigated_by_id == acting_user.pk:
        raise NotPermitted(
            _("You investigated this application, so another approver must approve it (four-eyes)."),
            "four_eyes",
        )
    _guard(app, "approve", acting_user)
    amount = app.amount if amount is None else Decimal(amount)
    term_months = app.term_months if term_months is None else int(term_months)
    if amount > app.amount:
        raise rule_failed(
            "approved_not_above_requested",
            _("The approved amount cannot exceed the %(requested)s yuan requested.")
            % {"requested": app.amount},
            "DOMAIN §4.5; issue #3: the approver approves an amount up to the one requested",
            field="amount",
        )
    today = _today()
    eligibility.require_application_eligible(
        app, on_date=today, stage="approval", amount=amount, term_months=term_months
    )
    # An indicative rate: the one a contract signed today would take. The loan's own rate is
    # fixed when the contract is signed, at disbursement (see application_disburse).
    profile = profile_for(county=county_of(app.household.village), on_date=today)
    rate = contract_rate_for(basis=profile.rate_basis, term_months=term_months, contract_date=today)
    app.approved_by = acting_user
    app.approved_on = today
    app.approved_amount = amount
    app.approved_term_months = term_months
    app.rate = rate.annual_rate
    app.rate_basis = rate.kind
    _take(app, "approve", acting_user, comment)
    return app


@transaction.atomic
def application_reject(*, acting_user, application, comment: str = "") -> LoanApplication:
    return _reasoned_step(
        "reject", acting_user=acting_user, application=application, comment=comment, final=True
    )


@transaction.atomic
def application_return_to_officer(*, acting_user, application, comment: str = "") -> LoanApplication:
    app = _reasoned_step(
        "return_to_officer", acting_user=acting_user, application=application, comment=comment, final=False
    )
    notices.returned_to_officer(app, comment)
    return app


def disbursement_rate(
    *, application: LoanApplication, on_date: datetime.date
) -> tuple[Rate, datetime.date | None]:
    """The rate a contract for `application` signed on `on_date` takes, and the day of the last LPR
    publication entered when the LPR table may be out of date for it (else None). The rate is the
    one in force that day for the approved term, on the table the county's profile in force that
    day names for that contract date (DOMAIN §5); RateMissing when the table has none.

    A stale table is a warning, not a refusal: the bank has signed the contract at the rate the
    administrators have not yet entered, and the page and the audit record say so."""
    profile = profile_for(county=county_of(application.household.village), on_date=on_date)
    rate = contract_rate_for(
        basis=profile.rate_basis,
        term_months=application.approved_term_months or application.term_months,
        contract_date=on_date,
    )
    return rate, (lpr_stale_on(on_date) if rate.kind == Rate.Kind.LPR else None)


@transaction.atomic
def application_disburse(
    *,
    acting_user,
    application,
    contract_no: str,
    receipt_no: str,
    disbursed_on: datetime.date | None = None,
    account_no: str | None = None,
    comment: str = "",
) -> Loan:
    """Disbursement (发放): the loan record with contract and receipt numbers and maturity.

    The contract is signed today, so its rate is fixed now: the rate in force on `disbursed_on`
    for the approved term, on the table the county's profile in force that day names for that
    contract date (DOMAIN §5). `account_no` is the borrower's account at the lending bank, where
    the subsidy is paid (DOMAIN §3, P3 §3.6); None means the one given on the application."""
    app = _lock(application)
    _guard(app, "disburse", acting_user)
    disbursed_on = disbursed_on or _today()
    if disbursed_on > _today():
        raise ApplicationError(
            _("The disbursement date cannot be in the future."), "invalid", field="disbursed_on"
        )
    # A disbursement may be entered late, but never dated before the approval it rests on: the
    # loan's dates (maturity, the subsidy period) would otherwise start before it was granted.
    if app.approved_on is not None and disbursed_on < app.approved_on:
        raise ApplicationError(
            _("The disbursement date cannot be before the approval on %(date)s.") % {"date": app.approved_on},
            "invalid",
            field="disbursed_on",
        )
    account_no = (app.bank_account_no if account_no is None else account_no).strip()
    if not account_no:
        source = eligibility.SOURCES["bank_account"]
        message = _(
            "Enter the borrower's account at the lending bank: the interest is debited and the "
            "interest subsidy paid there (%(source)s)."
        ) % {"source": citations.plain(source)}
        raise ApplicationError(
            message,
            "account_missing",
            {"rule": "bank_account", "source": source, "fields": {"account_no": [message]}},
            field="account_no",
        )
    account_no = normalise_account_no(account_no)
    eligibility.require_application_eligible(
        app,
        on_date=disbursed_on,
        stage="disbursement",
        amount=app.approved_amount,
        term_months=app.approved_term_months,
    )
    rate, stale = disbursement_rate(application=app, on_date=disbursed_on)
    disbursement_checks.run(application=app, amount=app.approved_amount, on_date=disbursed_on)
    _take(app, "disburse", acting_user, comment)
    loan = Loan(
        application=app,
        household=app.household,
        borrower=app.borrower,
        branch=app.branch,
        contract_no=(contract_no or "").strip(),
        receipt_no=(receipt_no or "").strip(),
        account_no=account_no,
        amount=app.approved_amount,
        rate=rate.annual_rate,
        rate_basis=rate.kind,
        term_months=app.approved_term_months,
        disbursed_on=disbursed_on,
        maturity_on=disbursed_on + relativedelta(months=app.approved_term_months),
        use_mode=app.use_mode,
        purpose_category=app.purpose_category,
        outstanding=app.approved_amount,
        disbursed_by=acting_user,
    )
    # Uniqueness of the numbers is left to the database, which also settles a race.
    loan.full_clean(exclude=["application"], validate_unique=False)
    try:
        with transaction.atomic():
            loan.save()
    except IntegrityError:
        raise ConflictError(
            _("This contract or receipt number is already used by another loan."), "duplicate_number"
        ) from None
    lifecycle.begin([loan], "disburse", acting_user, comment)
    data = {
        "amount": str(loan.amount),
        "contract_no": loan.contract_no,
        "application": app.pk,
        "rate": str(loan.rate),
        "rate_basis": loan.rate_basis,
        "rate_since": rate.effective_from.isoformat(),
    }
    if stale is not None:
        data["rate_table_stale"] = stale.isoformat()
    audit(actor=acting_user, action="loan.disburse", obj=loan, data=data)
    if app.kind == LoanApplication.Kind.RENEWAL and app.related_loan_id is not None:
        # changes.py builds on this module, so it is imported here rather than at the top.
        from .changes import renewal_replace

        renewal_replace(acting_user=acting_user, application=app, new_loan=loan)
    return loan
