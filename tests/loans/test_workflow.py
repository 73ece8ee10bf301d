"""The application state machine through its services (DOMAIN §4): every transition taken by the
right role from the right state writes one history row and one audit record; from the wrong
state it is a 409, by the wrong role or unit a 403, and either way nothing is written."""

import datetime
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Role
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from households.models import CreditRating
from households.services.blacklist import blacklist_add
from loans import steps
from loans.exceptions import TransitionNotAllowed
from loans.models import ApplicationHistory, Loan, LoanApplication, Objection, PublicityNotice
from loans.services import applications
from loans.workflow import State
from policies.models import Rate
from policies.services import rate_create
from tests.conftest import moment
from tests.factories import CreditRatingFactory, PolicyProfileFactory, UserFactory

FINDINGS = "实地查看养殖场，牛棚已建好，情况属实"


# ---- helpers -----------------------------------------------------------------------------------


def snapshot(app: LoanApplication) -> dict:
    """Everything a step may write, to prove a refused step wrote nothing."""
    fresh = LoanApplication.objects.get(pk=app.pk)
    return {
        "state": fresh.state,
        "history": ApplicationHistory.objects.count(),
        "audit": AuditEvent.objects.count(),
        "notices": list(PublicityNotice.objects.order_by("pk").values_list("pk", "status", "end_on")),
        "objections": Objection.objects.count(),
        "loans": Loan.objects.count(),
        "approved_by": fresh.approved_by_id,
        "investigated_by": fresh.investigated_by_id,
        "decision_reason": fresh.decision_reason,
    }


def assert_recorded(app, before: dict, *, name: str, from_state: str, to_state: str, by, comment: str):
    """The step moved the state and left exactly one history row and one audit record for it."""
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == to_state
    rows = list(ApplicationHistory.objects.filter(application=app).order_by("-id"))
    assert ApplicationHistory.objects.count() == before["history"] + 1
    last = rows[0]
    assert (last.transition, last.from_state, last.to_state) == (name, from_state, to_state)
    assert last.by_id == (by.pk if by is not None else None)
    assert last.comment == comment
    assert last.at is not None
    events = AuditEvent.objects.filter(
        action=f"application.{name}", object_type="loans.loanapplication", object_id=str(app.pk)
    )
    assert events.count() == 1
    event = events.get()
    assert event.actor_id == (by.pk if by is not None else None)
    assert event.data == {"from": from_state, "to": to_state}
    return app


def assert_nothing_written(app, before: dict):
    assert snapshot(app) == before


@pytest.fixture
def outsiders(world):
    """People with the right role at the wrong place, and the wrong role at the right place."""
    return {
        "cadre_v1b": UserFactory(username="cadre_v1b", unit=world.v1b, roles=[Role.VILLAGE_CADRE]),
        "other_cadre": world.other_cadre,
        "township_t2": UserFactory(username="township_t2", unit=world.t2, roles=[Role.TOWNSHIP_OFFICER]),
        "officer_br2": UserFactory(username="officer_br2", unit=world.br2, roles=[Role.LOAN_OFFICER]),
        "approver_br2": UserFactory(username="approver_br2", unit=world.br2, roles=[Role.APPROVER]),
        "officer": world.officer,
        "approver": world.approver,
        "cadre": world.cadre,
        "township_officer": world.township_officer,
        "county_office": world.county_office,
        "admin": world.admin,
        "finance": world.finance,
    }


def end_publicity_now(app):
    last = max(n.end_on for n in app.notices.filter(status=PublicityNotice.Status.RUNNING))
    return applications.publicity_end_due(on_date=last + datetime.timedelta(days=1))


# Each transition: source state, target state, acting user's key, the call, the expected comment.
STEPS = {
    "submit": (
        State.DRAFT,
        State.VILLAGE_REVIEW,
        "cadre",
        lambda u, app: applications.application_submit(acting_user=u, application=app, comment="材料齐全"),
        "材料齐全",
    ),
    "send_back": (
        State.VILLAGE_REVIEW,
        State.DRAFT,
        "cadre",
        lambda u, app: applications.application_send_back(
            acting_user=u, application=app, comment="补充项目说明"
        ),
        "补充项目说明",
    ),
    "village_approve": (
        State.VILLAGE_REVIEW,
        State.PUBLICITY,
        "cadre",
        lambda u, app: applications.application_village_approve(
            acting_user=u, application=app, comment="评议通过"
        ),
        "评议通过",
    ),
    "village_reject": (
        State.VILLAGE_REVIEW,
        State.REJECTED,
        "cadre",
        lambda u, app: applications.application_village_reject(
            acting_user=u, application=app, comment="用途不实"
        ),
        "用途不实",
    ),
    "object": (
        State.PUBLICITY,
        State.VILLAGE_REVIEW,
        "township_officer",
        lambda u, app: applications.objection_lodge(acting_user=u, application=app, text="申请人已外出务工"),
        "申请人已外出务工",
    ),
    "accept": (
        State.BANK_ACCEPTANCE,
        State.BANK_APPROVAL,
        "officer",
        lambda u, app: applications.application_accept(
            acting_user=u, application=app, findings=FINDINGS, comment="受理"
        ),
        "受理",
    ),
    "decline": (
        State.BANK_ACCEPTANCE,
        State.REJECTED,
        "officer",
        lambda u, app: applications.application_decline(acting_user=u, application=app, comment="无还款来源"),
        "无还款来源",
    ),
    "approve": (
        State.BANK_APPROVAL,
        State.APPROVED,
        "approver",
        lambda u, app: applications.application_approve(acting_user=u, application=app, comment="同意"),
        "同意",
    ),
    "reject": (
        State.BANK_APPROVAL,
        State.REJECTED,
        "approver",
        lambda u, app: applications.application_reject(acting_user=u, application=app, comment="负债过高"),
        "负债过高",
    ),
    "return_to_officer": (
        State.BANK_APPROVAL,
        State.BANK_ACCEPTANCE,
        "approver",
        lambda u, app: applications.application_return_to_officer(
            acting_user=u, application=app, comment="补充照片"
        ),
        "补充照片",
    ),
    "disburse": (
        State.APPROVED,
        State.DISBURSED,
        "officer",
        lambda u, app: applications.application_disburse(
            acting_user=u, application=app, contract_no="HT-A-1", receipt_no="JJ-A-1", comment="放款"
        ),
        "放款",
    ),
}


# ---- (a) allowed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STEPS))
def test_allowed_step_moves_state_and_records_it(name, world, outsiders, new_application, drive):
    source, target, who, call, comment = STEPS[name]
    app = drive(new_application(), source)
    before = snapshot(app)
    user = outsiders[who]

    call(user, app)

    assert_recorded(app, before, name=name, from_state=source, to_state=target, by=user, comment=comment)


@pytest.mark.parametrize(
    "source", [State.DRAFT, State.VILLAGE_REVIEW, State.PUBLICITY, State.BANK_ACCEPTANCE]
)
def test_withdraw_from_each_allowed_state(source, world, new_application, drive):
    app = drive(new_application(), source)
    before = snapshot(app)

    applications.application_withdraw(acting_user=world.cadre, application=app, comment="农户不再需要贷款")

    app = assert_recorded(
        app,
        before,
        name="withdraw",
        from_state=source,
        to_state=State.WITHDRAWN,
        by=world.cadre,
        comment="农户不再需要贷款",
    )
    assert app.decision_reason == "农户不再需要贷款"
    # A withdrawn application's notices come down.
    assert not app.notices.filter(status=PublicityNotice.Status.RUNNING).exists()
    if source == State.PUBLICITY:
        assert app.notices.filter(status=PublicityNotice.Status.CANCELLED).count() == 3


def test_object_records_the_objection_and_suspends_notices(world, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    before = snapshot(app)

    objection = applications.objection_lodge(
        acting_user=world.township_officer, application=app, text="申请人已外出务工", objector="村民李四"
    )

    assert_recorded(
        app,
        before,
        name="object",
        from_state=State.PUBLICITY,
        to_state=State.VILLAGE_REVIEW,
        by=world.township_officer,
        comment="申请人已外出务工",
    )
    assert (objection.raised_by, objection.objector, objection.text) == (
        world.township_officer,
        "村民李四",
        "申请人已外出务工",
    )
    assert objection.notice.level == PublicityNotice.Level.TOWNSHIP
    assert set(app.notices.values_list("status", flat=True)) == {PublicityNotice.Status.SUSPENDED}
    assert AuditEvent.objects.filter(action="application.objection", object_id=str(objection.pk)).count() == 1


def test_end_publicity_is_taken_by_the_system(world, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    before = snapshot(app)

    moved = end_publicity_now(app)

    assert moved == [app.pk]
    app = assert_recorded(
        app,
        before,
        name="end_publicity",
        from_state=State.PUBLICITY,
        to_state=State.BANK_ACCEPTANCE,
        by=None,
        comment=gettext("Publicity ended without objection."),
    )
    assert set(app.notices.values_list("status", flat=True)) == {PublicityNotice.Status.ENDED}


def test_nobody_may_end_publicity_by_hand(world, outsiders, new_application, drive):
    from django_fsm import has_transition_perm

    app = drive(new_application(), State.PUBLICITY)
    for user in outsiders.values():
        assert not has_transition_perm(app.end_publicity, user)
    assert "end_publicity" not in steps.STEPS


# ---- (b) wrong source state ----------------------------------------------------------------------

# For each transition, states it may not be taken from (including final states).
WRONG_SOURCES = {
    "submit": [State.VILLAGE_REVIEW, State.APPROVED],
    "send_back": [State.DRAFT, State.PUBLICITY],
    "village_approve": [State.DRAFT, State.PUBLICITY],
    "village_reject": [State.PUBLICITY, State.BANK_ACCEPTANCE],
    "object": [State.VILLAGE_REVIEW, State.BANK_ACCEPTANCE],
    "accept": [State.PUBLICITY, State.BANK_APPROVAL],
    "decline": [State.BANK_APPROVAL, State.APPROVED],
    "approve": [State.BANK_ACCEPTANCE, State.APPROVED],
    "reject": [State.BANK_ACCEPTANCE, State.DISBURSED],
    "return_to_officer": [State.BANK_ACCEPTANCE, State.APPROVED],
    "disburse": [State.BANK_APPROVAL, State.DISBURSED],
}


@pytest.mark.parametrize(
    ("name", "state"), [(name, state) for name, states in WRONG_SOURCES.items() for state in states]
)
def test_wrong_source_state_is_409_and_writes_nothing(name, state, world, outsiders, new_application, drive):
    _source, _target, who, call, _comment = STEPS[name]
    app = drive(new_application(), state)
    before = snapshot(app)

    with pytest.raises(TransitionNotAllowed) as caught:
        call(outsiders[who], app)

    assert caught.value.status_code == 409
    assert caught.value.code == "transition_not_allowed"
    assert caught.value.extra == {"state": state, "transition": name}
    assert_nothing_written(app, before)


@pytest.mark.parametrize("state", [State.BANK_APPROVAL, State.APPROVED, State.DISBURSED])
def test_withdraw_from_a_later_state_is_409(state, world, new_application, drive):
    app = drive(new_application(), state)
    before = snapshot(app)
    with pytest.raises(TransitionNotAllowed):
        applications.application_withdraw(acting_user=world.cadre, application=app, comment="不要了")
    assert_nothing_written(app, before)


@pytest.mark.parametrize("final", ["village_reject", "withdraw"])
def test_final_states_allow_nothing(final, world, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    if final == "withdraw":
        applications.application_withdraw(acting_user=world.cadre, application=app, comment="不要了")
    else:
        applications.application_village_reject(acting_user=world.cadre, application=app, comment="用途不实")
    before = snapshot(app)
    for call in (
        lambda: applications.application_submit(acting_user=world.cadre, application=app),
        lambda: applications.application_village_approve(acting_user=world.cadre, application=app),
        lambda: applications.application_withdraw(acting_user=world.cadre, application=app, comment="再撤"),
    ):
        with pytest.raises(TransitionNotAllowed):
            call()
    assert_nothing_written(app, before)


def test_end_due_leaves_applications_outside_publicity_alone(world, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    before = snapshot(app)
    assert applications.publicity_end_due(on_date=timezone.localdate() + datetime.timedelta(days=60)) == []
    assert_nothing_written(app, before)


def test_wrong_state_is_reported_before_any_rule(world, new_application, drive):
    """A draft without consent, approved at village level: the answer is the state (409), not
    the missing consent, because the step cannot be taken at all."""
    app = new_application(consent_publicity=False)
    before = snapshot(app)
    with pytest.raises(TransitionNotAllowed):
        applications.application_village_approve(acting_user=world.cadre, application=app)
    assert_nothing_written(app, before)


# ---- (c) wrong role or unit ----------------------------------------------------------------------

WRONG_USERS = {
    "submit": ["cadre_v1b", "other_cadre", "township_officer", "officer"],
    "send_back": ["cadre_v1b", "other_cadre", "township_officer"],
    "village_approve": ["cadre_v1b", "other_cadre", "township_officer", "county_office"],
    "village_reject": ["cadre_v1b", "other_cadre", "officer"],
    "object": ["other_cadre", "cadre_v1b", "township_t2", "officer", "finance"],
    "accept": ["officer_br2", "approver", "cadre", "admin"],
    "decline": ["officer_br2", "approver"],
    "approve": ["approver_br2", "officer", "cadre", "admin"],
    "reject": ["approver_br2", "officer"],
    "return_to_officer": ["approver_br2", "officer"],
    "disburse": ["officer_br2", "approver", "admin"],
}


@pytest.mark.parametrize(
    ("name", "who"), [(name, who) for name, users in WRONG_USERS.items() for who in users]
)
def test_wrong_role_or_unit_is_403_and_writes_nothing(name, who, world, outsiders, new_application, drive):
    source, _target, _right, call, _comment = STEPS[name]
    app = drive(new_application(), source)
    before = snapshot(app)

    with pytest.raises(NotPermitted) as caught:
        call(outsiders[who], app)

    assert caught.value.status_code == 403
    assert_nothing_written(app, before)


@pytest.mark.parametrize("who", ["cadre_v1b", "other_cadre", "officer"])
def test_withdraw_by_wrong_role_is_403(who, world, outsiders, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    before = snapshot(app)
    with pytest.raises(NotPermitted):
        applications.application_withdraw(acting_user=outsiders[who], application=app, comment="不要了")
    assert_nothing_written(app, before)


def test_objection_by_each_publicity_level(world, new_application, drive):
    """The cadre, the township officer and the county office all run publicity (DOMAIN §1)."""
    for user, level in (
        (world.cadre, PublicityNotice.Level.VILLAGE),
        (world.township_officer, PublicityNotice.Level.TOWNSHIP),
        (world.county_office, PublicityNotice.Level.COUNTY),
    ):
        app = drive(new_application(amount=Decimal("10000.00")), State.PUBLICITY)
        objection = applications.objection_lodge(acting_user=user, application=app, text="有异议")
        assert objection.notice.level == level
        assert LoanApplication.objects.get(pk=app.pk).state == State.VILLAGE_REVIEW


def test_wrong_role_is_refused_before_eligibility_is_judged(world, outsiders, new_application, drive):
    """Someone who may not approve gets a 403, not the list of the household's failed rules."""
    app = drive(new_application(), State.BANK_APPROVAL)
    blacklist_add(acting_user=world.county_office, household=app.household, reason="恶意逃债")
    before = snapshot(app)
    with pytest.raises(NotPermitted) as caught:
        applications.application_approve(acting_user=outsiders["approver_br2"], application=app)
    assert "rules" not in caught.value.extra
    assert_nothing_written(app, before)


# ---- reasons -------------------------------------------------------------------------------------

NEEDS_REASON = {
    "send_back": (State.VILLAGE_REVIEW, lambda w, app, r: applications.application_send_back(
        acting_user=w.cadre, application=app, comment=r)),
    "village_reject": (State.VILLAGE_REVIEW, lambda w, app, r: applications.application_village_reject(
        acting_user=w.cadre, application=app, comment=r)),
    "withdraw": (State.DRAFT, lambda w, app, r: applications.application_withdraw(
        acting_user=w.cadre, application=app, comment=r)),
    "object": (State.PUBLICITY, lambda w, app, r: applications.objection_lodge(
        acting_user=w.cadre, application=app, text=r)),
    "accept": (State.BANK_ACCEPTANCE, lambda w, app, r: applications.application_accept(
        acting_user=w.officer, application=app, findings=r)),
    "decline": (State.BANK_ACCEPTANCE, lambda w, app, r: applications.application_decline(
        acting_user=w.officer, application=app, comment=r)),
    "reject": (State.BANK_APPROVAL, lambda w, app, r: applications.application_reject(
        acting_user=w.approver, application=app, comment=r)),
    "return_to_officer": (State.BANK_APPROVAL, lambda w, app, r: applications.application_return_to_officer(
        acting_user=w.approver, application=app, comment=r)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NEEDS_REASON))
@pytest.mark.parametrize("reason", ["", "   "])
def test_steps_that_need_a_reason_refuse_without_one(name, reason, world, new_application, drive):
    source, call = NEEDS_REASON[name]
    app = drive(new_application(), source)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        call(world, app, reason)
    field = {"accept": "findings", "object": "text"}.get(name, "comment")
    assert (caught.value.code, caught.value.field) == ("invalid", field)
    assert caught.value.status_code == 400
    assert_nothing_written(app, before)


@pytest.mark.parametrize("name", ["village_reject", "decline", "reject"])
def test_rejection_keeps_its_reason(name, world, new_application, drive):
    source, call = NEEDS_REASON[name]
    app = drive(new_application(), source)
    call(world, app, "收入来源不稳定")
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == State.REJECTED
    assert app.decision_reason == "收入来源不稳定"


# ---- acceptance, four-eyes, approval ------------------------------------------------------------


def test_accept_records_the_investigation(world, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    applications.application_accept(
        acting_user=world.officer,
        application=app,
        findings=FINDINGS,
        investigated_on=app.submitted_on,
    )
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.investigated_by == world.officer
    assert app.investigated_on == app.submitted_on
    assert app.investigation_findings == FINDINGS


@pytest.fixture
def officer_approver(world):
    """A loan officer at br1 who also holds the approver role."""
    return UserFactory(username="both", unit=world.br1, roles=[Role.LOAN_OFFICER, Role.APPROVER])


def test_four_eyes_the_investigator_cannot_approve(
    world, officer_approver, approver2, new_application, drive
):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    applications.application_accept(acting_user=officer_approver, application=app, findings=FINDINGS)
    before = snapshot(app)

    with pytest.raises(NotPermitted) as caught:
        applications.application_approve(acting_user=officer_approver, application=app)
    assert caught.value.code == "four_eyes"
    assert caught.value.status_code == 403
    assert_nothing_written(app, before)

    applications.application_approve(acting_user=approver2, application=app)
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == State.APPROVED
    assert (app.investigated_by, app.approved_by) == (officer_approver, approver2)


def test_four_eyes_the_investigator_cannot_reject_either(world, officer_approver, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    applications.application_accept(acting_user=officer_approver, application=app, findings=FINDINGS)
    before = snapshot(app)
    with pytest.raises(NotPermitted):
        applications.application_reject(acting_user=officer_approver, application=app, comment="不同意")
    assert_nothing_written(app, before)


def test_four_eyes_database_constraint(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    assert app.investigated_by == world.officer
    with pytest.raises(IntegrityError, match="application_four_eyes"), transaction.atomic():
        LoanApplication.objects.filter(pk=app.pk).update(approved_by=app.investigated_by)
    assert LoanApplication.objects.get(pk=app.pk).approved_by == world.approver


def test_approved_amount_above_requested_is_refused(world, new_application, drive):
    app = drive(new_application(amount=Decimal("30000.00")), State.BANK_APPROVAL)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_approve(
            acting_user=world.approver, application=app, amount=Decimal("30000.01")
        )
    assert caught.value.code == "rule_failed"
    assert caught.value.extra["rules"][0]["rule"] == "approved_not_above_requested"
    assert_nothing_written(app, before)

    constraint = "application_approved_not_above_requested"
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        LoanApplication.objects.filter(pk=app.pk).update(approved_amount=Decimal("30000.01"))


def test_approval_may_lower_the_amount(world, new_application, drive):
    app = drive(new_application(amount=Decimal("30000.00")), State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=app, amount=Decimal("20000.00"))
    app = LoanApplication.objects.get(pk=app.pk)
    assert (app.approved_amount, app.approved_by, app.approved_on) == (
        Decimal("20000.00"),
        world.approver,
        timezone.localdate(),
    )


# The default profile prices by contract date (DOMAIN §5): on the LPR table since 2019-08-20. The
# seeded table's last LPR is the one of 2025-05-20: 1-year 3.00, 5-year 3.50.
@pytest.mark.today("2026-06-17")
@pytest.mark.parametrize(
    ("term", "rate"),
    [
        (None, Decimal("3.50")),
        (24, Decimal("3.50")),
        (13, Decimal("3.50")),
        (12, Decimal("3.00")),
        (6, Decimal("3.00")),
    ],
)
def test_indicative_rate_at_approval_comes_from_the_table_for_the_approved_term(
    term, rate, world, new_application, drive
):
    app = drive(new_application(term_months=24), State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=app, term_months=term)
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.approved_term_months == (term or 24)
    assert (app.rate, app.rate_basis) == (rate, "lpr")


@pytest.mark.today("2026-06-17")
def test_rate_follows_the_profiles_basis(world, new_application, drive):
    """A profile on the benchmark prices every contract on the PBOC benchmark table (2015-10-24):
    4.75 for 1 to 5 years, 4.35 for a year or less."""
    PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2020, 1, 1), rate_basis="benchmark"
    )
    app = drive(new_application(term_months=24, amount=Decimal("20000.00")), State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=app)
    app = LoanApplication.objects.get(pk=app.pk)
    assert (app.rate, app.rate_basis) == (Decimal("4.75"), "benchmark")
    loan = applications.application_disburse(
        acting_user=world.officer, application=app, contract_no="HT-BM-1", receipt_no="JJ-BM-1"
    )
    assert (loan.rate, loan.rate_basis) == (Decimal("4.75"), "benchmark")
    # The LPR table is a year behind on this day, but this contract does not read it.
    event = AuditEvent.objects.get(action="loan.disburse", object_id=str(loan.pk))
    assert "rate_table_stale" not in event.data

    other = drive(new_application(term_months=12, amount=Decimal("20000.00")), State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=other)
    assert LoanApplication.objects.get(pk=other.pk).rate == Decimal("4.35")


def test_approved_term_outside_the_profile_is_refused(world, new_application, drive):
    app = drive(new_application(term_months=24), State.BANK_APPROVAL)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_approve(acting_user=world.approver, application=app, term_months=48)
    assert caught.value.code == "rule_failed"
    assert [r["rule"] for r in caught.value.extra["rules"]] == ["term_range"]
    assert_nothing_written(app, before)


def test_bank_level_approver_may_approve(world, new_application, drive):
    head_office = UserFactory(username="head", unit=world.bank, roles=[Role.APPROVER])
    app = drive(new_application(), State.BANK_APPROVAL)
    applications.application_approve(acting_user=head_office, application=app)
    assert LoanApplication.objects.get(pk=app.pk).state == State.APPROVED


# ---- eligibility re-checked ----------------------------------------------------------------------


def test_blacklist_after_acceptance_blocks_approval(world, new_application, drive):
    app = drive(new_application(), State.BANK_APPROVAL)
    blacklist_add(acting_user=world.county_office, household=app.household, reason="恶意逃债")
    before = snapshot(app)

    with pytest.raises(ApplicationError) as caught:
        applications.application_approve(acting_user=world.approver, application=app)

    assert caught.value.code == "rule_failed"
    assert caught.value.status_code == 400
    assert [r["rule"] for r in caught.value.extra["rules"]] == ["credit_record"]
    assert caught.value.extra["stage"] == "approval"
    assert caught.value.extra["rules"][0]["source"]
    assert_nothing_written(app, before)


def test_blacklist_after_approval_blocks_disbursement(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    blacklist_add(acting_user=world.officer, household=app.household, reason="恶意逃债")
    before = snapshot(app)

    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer, application=app, contract_no="H", receipt_no="J"
        )

    assert [r["rule"] for r in caught.value.extra["rules"]] == ["credit_record"]
    assert caught.value.extra["stage"] == "disbursement"
    assert_nothing_written(app, before)


def test_submission_checks_eligibility(world, household, new_application):
    blacklist_add(acting_user=world.county_office, household=household, reason="恶意逃债")
    app = new_application()
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_submit(acting_user=world.cadre, application=app)
    assert "credit_record" in [r["rule"] for r in caught.value.extra["rules"]]
    assert_nothing_written(app, before)


def test_village_approval_without_consent_is_refused(world, new_application, drive):
    app = drive(new_application(consent_publicity=False), State.VILLAGE_REVIEW)
    before = snapshot(app)

    with pytest.raises(ApplicationError) as caught:
        applications.application_village_approve(acting_user=world.cadre, application=app)

    assert caught.value.code == "rule_failed"
    assert [r["rule"] for r in caught.value.extra["rules"]] == ["consent_publicity"]
    assert caught.value.field == "consent_publicity"
    assert_nothing_written(app, before)
    assert not PublicityNotice.objects.filter(application=app).exists()


def test_village_approval_without_credit_query_consent_is_refused(world, new_application, drive):
    app = drive(new_application(consent_credit_query=False), State.VILLAGE_REVIEW)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_village_approve(acting_user=world.cadre, application=app)
    assert [r["rule"] for r in caught.value.extra["rules"]] == ["consent_credit_query"]
    assert_nothing_written(app, before)


# ---- disbursement --------------------------------------------------------------------------------


def test_disbursement_creates_one_loan(world, new_application, drive):
    app = drive(new_application(amount=Decimal("30000.00"), term_months=24), State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=app, amount=Decimal("25000.00"))
    today = timezone.localdate()

    loan = applications.application_disburse(
        acting_user=world.officer, application=app, contract_no=" HT-2026-001 ", receipt_no="JJ-2026-001"
    )

    assert Loan.objects.filter(application=app).count() == 1
    loan.refresh_from_db()
    assert loan.contract_no == "HT-2026-001"
    assert loan.receipt_no == "JJ-2026-001"
    assert loan.amount == loan.outstanding == Decimal("25000.00")
    # 24 months on 2026-06-17 under the default (LPR) basis: the 5-year LPR of 2025-05-20, 3.50.
    assert (loan.rate, loan.rate_basis, loan.term_months) == (Decimal("3.50"), "lpr", 24)
    # No account given: the one on the application, where the subsidy will be paid.
    assert loan.account_no == "6230 0000 1111 2222"
    assert loan.disbursed_on == today
    assert loan.maturity_on == today + relativedelta(months=24)
    assert (loan.household, loan.borrower, loan.branch) == (app.household, app.borrower, world.br1)
    assert loan.disbursed_by == world.officer
    assert loan.state == Loan.State.ACTIVE
    assert AuditEvent.objects.filter(action="loan.disburse", object_id=str(loan.pk)).count() == 1


# ---- the rate is fixed on the contract date, at disbursement (DOMAIN §5) ---------------------------


def enter_lpr(admin, day: str, one_year: str, five_year: str) -> None:
    """An administrator enters a month's LPR publication, as on the rates page."""
    for tenor, rate in (("lpr1y", one_year), ("lpr5y", five_year)):
        rate_create(
            acting_user=admin,
            kind="lpr",
            tenor=tenor,
            effective_from=datetime.date.fromisoformat(day),
            annual_rate=Decimal(rate),
            source=f"{day} 贷款市场报价利率公告",
        )


def test_loan_rate_is_the_disbursement_days_not_the_approval_days(
    world, new_application, drive, pinned_clock
):
    app = drive(new_application(term_months=24), State.BANK_APPROVAL)
    app = applications.application_approve(acting_user=world.approver, application=app)
    # Approved on 2026-06-17: indicative 3.50, the 5-year LPR of 2025-05-20.
    assert (app.approved_on, app.rate) == (datetime.date(2026, 6, 17), Decimal("3.50"))

    # A publication of 2026-06-22 (figures made up for the test: 1-year 2.80, 5-year 3.30) is
    # entered that day; the contract is signed the day after.
    pinned_clock.move_to(moment("2026-06-22"))
    enter_lpr(world.admin, "2026-06-22", "2.80", "3.30")
    pinned_clock.move_to(moment("2026-06-23"))
    loan = applications.application_disburse(
        acting_user=world.officer, application=app, contract_no="HT-R1", receipt_no="JJ-R1"
    )

    assert (loan.disbursed_on, loan.rate, loan.rate_basis) == (
        datetime.date(2026, 6, 23),
        Decimal("3.30"),
        "lpr",
    )
    assert LoanApplication.objects.get(pk=app.pk).rate == Decimal("3.50")  # the approval's stays as it was
    event = AuditEvent.objects.get(action="loan.disburse", object_id=str(loan.pk))
    assert (event.data["rate"], event.data["rate_basis"], event.data["rate_since"]) == (
        "3.3000",
        "lpr",
        "2026-06-22",
    )
    assert "rate_table_stale" not in event.data


@pytest.mark.today("2019-08-19")
@pytest.mark.parametrize(
    ("disbursed_on", "term", "rate", "basis"),
    [
        ("2019-08-19", 12, "4.35", "benchmark"),  # the day before the LPR: benchmark, 1 year or less
        ("2019-08-19", 24, "4.75", "benchmark"),  # benchmark, 1 to 5 years
        ("2019-08-20", 12, "4.25", "lpr"),  # the first LPR publication: 1-year 4.25
        ("2019-08-20", 24, "4.85", "lpr"),  # 5-year 4.85
    ],
)
def test_the_contract_date_decides_benchmark_or_lpr(
    disbursed_on, term, rate, basis, world, new_application, drive, pinned_clock
):
    """The default profile (basis LPR), approved on 2019-08-19 and signed on either side of the
    switch: the contract date alone picks the table."""
    app = drive(new_application(term_months=term), State.BANK_APPROVAL)
    app = applications.application_approve(acting_user=world.approver, application=app)
    assert app.rate_basis == "benchmark"
    pinned_clock.move_to(moment(disbursed_on))
    loan = applications.application_disburse(
        acting_user=world.officer,
        application=app,
        contract_no="HT-S",
        receipt_no="JJ-S",
        disbursed_on=datetime.date.fromisoformat(disbursed_on),
    )
    assert (loan.rate, loan.rate_basis) == (Decimal(rate), basis)


def test_a_stale_lpr_table_is_noted_on_the_disbursement_not_refused(world, new_application, drive):
    # 2026-06-17, and the last LPR entered is the one of 2025-05-20: more than a month behind.
    app = drive(new_application(amount=Decimal("20000.00")), State.APPROVED)
    loan = applications.application_disburse(
        acting_user=world.officer, application=app, contract_no="HT-ST1", receipt_no="JJ-ST1"
    )
    assert loan.rate == Decimal("3.50")
    event = AuditEvent.objects.get(action="loan.disburse", object_id=str(loan.pk))
    assert event.data["rate_table_stale"] == "2025-05-20"

    # An administrator enters the 2026-05-20 publication (unchanged figures): no longer behind.
    enter_lpr(world.admin, "2026-05-20", "3.00", "3.50")
    other = drive(new_application(amount=Decimal("20000.00")), State.APPROVED)
    loan = applications.application_disburse(
        acting_user=world.officer, application=other, contract_no="HT-ST2", receipt_no="JJ-ST2"
    )
    event = AuditEvent.objects.get(action="loan.disburse", object_id=str(loan.pk))
    assert "rate_table_stale" not in event.data and event.data["rate_since"] == "2026-05-20"


def test_no_rate_in_force_refuses_the_disbursement(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    # An installation whose table has no LPR (never loaded): nothing to price the contract with.
    Rate.objects.filter(kind=Rate.Kind.LPR).delete()
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer, application=app, contract_no="HT-NR", receipt_no="JJ-NR"
        )
    assert caught.value.code == "rate_missing"
    assert caught.value.extra == {"kind": "lpr", "tenor": "lpr5y", "date": "2026-06-17"}
    assert_nothing_written(app, before)


# ---- the borrower's account at the lending bank (DOMAIN §3, P3 §3.6) -------------------------------


def test_disbursement_without_an_account_is_refused(world, new_application, drive):
    app = drive(new_application(amount=Decimal("20000.00")), State.APPROVED)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer,
            application=app,
            contract_no="HT-A0",
            receipt_no="JJ-A0",
            account_no="  ",
        )
    assert (caught.value.code, caught.value.field) == ("account_missing", "account_no")
    assert caught.value.extra["rule"] == "bank_account" and caught.value.extra["source"] == "P3 §3.6"
    assert caught.value.extra["fields"] == {"account_no": [caught.value.message]}
    assert_nothing_written(app, before)

    # The officer corrects the account the application gave.
    loan = applications.application_disburse(
        acting_user=world.officer,
        application=app,
        contract_no="HT-A0",
        receipt_no="JJ-A0",
        account_no=" 6230 9999 ",
    )
    assert loan.account_no == "6230 9999"


def test_disbursement_without_an_account_given_or_on_the_application_is_refused(
    world, new_application, drive
):
    app = drive(new_application(), State.APPROVED)
    # Omitted, the account is the application's; here it was cleared after approval.
    LoanApplication.objects.filter(pk=app.pk).update(bank_account_no="")
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer, application=app, contract_no="HT-A1", receipt_no="JJ-A1"
        )
    assert (caught.value.code, caught.value.field) == ("account_missing", "account_no")
    assert_nothing_written(app, before)


@pytest.fixture
def clock(monkeypatch):
    """Sets the services' "today" (their own clock; the database is real)."""

    def set_today(day: datetime.date) -> None:
        monkeypatch.setattr(applications, "_today", lambda: day)

    return set_today


@pytest.mark.parametrize(
    ("disbursed_on", "term", "maturity"),
    [
        (datetime.date(2026, 1, 31), 1, datetime.date(2026, 2, 28)),
        (datetime.date(2026, 3, 31), 11, datetime.date(2027, 2, 28)),
        (datetime.date(2026, 2, 28), 12, datetime.date(2027, 2, 28)),
    ],
)
def test_maturity_from_the_approved_term(
    disbursed_on, term, maturity, world, household, clock, new_application, drive
):
    # Walk the application through early 2026 with a rating in force then: eligibility is judged
    # on the day of each step.
    CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=Decimal("50000.00"),
        valid_from=datetime.date(2025, 12, 1),
        valid_to=datetime.date(2026, 6, 30),
    )
    clock(datetime.date(2026, 1, 5))
    app = drive(new_application(term_months=24), State.BANK_ACCEPTANCE)
    clock(datetime.date(2026, 1, 20))
    app = drive(app, State.BANK_APPROVAL)
    applications.application_approve(acting_user=world.approver, application=app, term_months=term)
    clock(disbursed_on)

    loan = applications.application_disburse(
        acting_user=world.officer,
        application=app,
        contract_no="HT-M",
        receipt_no="JJ-M",
        disbursed_on=disbursed_on,
    )

    assert (loan.disbursed_on, loan.term_months, loan.maturity_on) == (disbursed_on, term, maturity)
    assert LoanApplication.objects.get(pk=app.pk).approved_on == datetime.date(2026, 1, 20)


def test_disbursement_before_approval_is_refused(world, household, clock, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer,
            application=app,
            contract_no="HT-B",
            receipt_no="JJ-B",
            disbursed_on=app.approved_on - datetime.timedelta(days=1),
        )
    assert (caught.value.code, caught.value.field) == ("invalid", "disbursed_on")
    assert_nothing_written(app, before)


def test_disbursement_date_in_the_future_is_refused(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    before = snapshot(app)
    with pytest.raises(ApplicationError) as caught:
        applications.application_disburse(
            acting_user=world.officer,
            application=app,
            contract_no="HT-F",
            receipt_no="JJ-F",
            disbursed_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    assert caught.value.field == "disbursed_on"
    assert_nothing_written(app, before)


@pytest.mark.parametrize("clash", ["contract", "receipt"])
def test_duplicate_number_is_a_conflict_and_nothing_half_written(clash, world, new_application, drive):
    first = drive(new_application(amount=Decimal("20000.00")), State.APPROVED)
    applications.application_disburse(
        acting_user=world.officer, application=first, contract_no="HT-DUP", receipt_no="JJ-DUP"
    )
    second = drive(new_application(amount=Decimal("20000.00")), State.APPROVED)
    before = snapshot(second)

    with pytest.raises(ConflictError) as caught:
        applications.application_disburse(
            acting_user=world.officer,
            application=second,
            contract_no="HT-DUP" if clash == "contract" else "HT-NEW",
            receipt_no="JJ-DUP" if clash == "receipt" else "JJ-NEW",
        )

    assert caught.value.code == "duplicate_number"
    assert caught.value.status_code == 409
    assert_nothing_written(second, before)
    assert LoanApplication.objects.get(pk=second.pk).state == State.APPROVED
    assert not Loan.objects.filter(application=second).exists()

    # The same application goes through once the number is corrected.
    applications.application_disburse(
        acting_user=world.officer, application=second, contract_no="HT-NEW2", receipt_no="JJ-NEW2"
    )
    assert LoanApplication.objects.get(pk=second.pk).state == State.DISBURSED
    assert Loan.objects.count() == 2


def test_second_disbursement_is_409(world, new_application, drive):
    app = drive(new_application(), State.DISBURSED)
    before = snapshot(app)
    with pytest.raises(TransitionNotAllowed):
        applications.application_disburse(
            acting_user=world.officer, application=app, contract_no="X", receipt_no="Y"
        )
    assert_nothing_written(app, before)
    assert Loan.objects.filter(application=app).count() == 1


# ---- the state field ------------------------------------------------------------------------------


def test_state_cannot_be_assigned(world, new_application):
    app = new_application()
    with pytest.raises(AttributeError):
        app.state = State.APPROVED
    app = LoanApplication.objects.get(pk=app.pk)
    with pytest.raises(AttributeError):
        app.state = State.DISBURSED
    assert LoanApplication.objects.get(pk=app.pk).state == State.DRAFT


def test_a_stale_copy_cannot_take_a_step_twice(world, new_application, drive):
    """Two requests hold the same application; the first approves, the second (its copy still
    says bank_approval) is refused, because the service re-reads the row under a lock."""
    app = drive(new_application(), State.BANK_APPROVAL)
    stale = LoanApplication.objects.get(pk=app.pk)
    applications.application_approve(acting_user=world.approver, application=app)
    before = snapshot(app)
    with pytest.raises(TransitionNotAllowed):
        applications.application_reject(acting_user=world.approver, application=stale, comment="不同意")
    assert_nothing_written(app, before)


def test_the_whole_journey_leaves_a_complete_history(world, new_application, drive):
    app = drive(new_application(), State.DISBURSED)
    rows = list(ApplicationHistory.objects.filter(application=app).order_by("id"))
    assert [(r.from_state, r.to_state) for r in rows] == [
        (State.DRAFT, State.VILLAGE_REVIEW),
        (State.VILLAGE_REVIEW, State.PUBLICITY),
        (State.PUBLICITY, State.BANK_ACCEPTANCE),
        (State.BANK_ACCEPTANCE, State.BANK_APPROVAL),
        (State.BANK_APPROVAL, State.APPROVED),
        (State.APPROVED, State.DISBURSED),
    ]
    bank = [world.officer, world.approver, world.officer]
    assert [r.by for r in rows] == [world.cadre, world.cadre, None, *bank]


@pytest.mark.parametrize("offset", [1, -400])
def test_investigation_date_outside_submission_to_today_is_refused(offset, world, new_application, drive):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    day = timezone.localdate() + datetime.timedelta(days=offset)
    with pytest.raises(ApplicationError) as caught:
        applications.application_accept(
            acting_user=world.officer, application=app, findings="情况属实", investigated_on=day
        )
    assert (caught.value.code, caught.value.field) == ("invalid", "investigated_on")
    app.refresh_from_db()
    assert app.state == State.BANK_ACCEPTANCE and app.investigated_by is None
