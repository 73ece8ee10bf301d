"""`manage.py seed_demo` on the real PostgreSQL: the demo county `make run` shows newcomers, as
seeded on one plain working day (DAY). The demo on weekends, holidays, adjusted working days and
in a year the calendar lacks is tested in tests/test_demo_dates.py."""

import datetime
import re
from collections import Counter
from io import StringIO

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.contrib.auth import authenticate
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import OrgUnit, Role, User
from core.models import AuditEvent
from demo import applications as seed_applications
from demo import households as seed_households
from demo import loans as seed_loans
from demo import regions as seed_regions
from households import idnumbers
from households.models import BlacklistEntry, CreditRating, Household, Member
from loans import selectors as loan_selectors
from loans.choices import CLASSIFICATION_ORDER, Classification
from loans.classification import BUCKETS
from loans.models import (
    ApplicationHistory,
    BorrowerEvent,
    ClassificationChange,
    Extension,
    InsurancePayout,
    Loan,
    LoanApplication,
    PostLoanCheck,
    PublicityNotice,
    Repayment,
    Settlement,
)
from loans.services import applications as loan_services
from loans.services.changes import EXTENSION_CLASS_REASON
from loans.services.servicing import AUTO_REASON, overdue_refresh
from loans.workflow import State
from policies.models import CalendarDay, PolicyProfile
from tests.conftest import content_types_ensure, login_request, moment, reference_data_ensure

# The day these tests are about: a Wednesday in June, a plain working day in the middle of a
# quarter and of a year the seeded calendar covers. The module seeds on it and every test runs on it.
DAY = datetime.date(2026, 6, 17)
pytestmark = [pytest.mark.django_db, pytest.mark.today(DAY.isoformat())]

EXPECTED_STATES = Counter(p.state for p in seed_applications.APPLICATIONS)
# Who takes each step (DOMAIN §4); the daily task takes end_publicity as nobody.
STEP_ROLES = {
    "submit": Role.VILLAGE_CADRE,
    "send_back": Role.VILLAGE_CADRE,
    "village_approve": Role.VILLAGE_CADRE,
    "village_reject": Role.VILLAGE_CADRE,
    "withdraw": Role.VILLAGE_CADRE,
    "object": Role.TOWNSHIP_OFFICER,
    "accept": Role.LOAN_OFFICER,
    "decline": Role.LOAN_OFFICER,
    "disburse": Role.LOAN_OFFICER,
    "approve": Role.APPROVER,
    "reject": Role.APPROVER,
}


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One seeding for the module (it takes seconds), on DAY, rolled back at the end. Each test
    runs in a savepoint inside it, so what one test changes the next does not see."""
    with django_db_blocker.unblock(), transaction.atomic():
        # A transactional test before this module may have flushed what migrations made.
        reference_data_ensure()
        made = content_types_ensure()
        with time_machine.travel(moment(DAY), tick=True):
            out = StringIO()
            call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)
    if made:
        ContentType.objects.clear_cache()


def demo_applications():
    """The planned applications; the renewal started on an imported loan is tested on its own."""
    return LoanApplication.objects.filter(
        household__village__parent__parent__code=seed_regions.COUNTY_CODE, kind=LoanApplication.Kind.NEW
    )


def demo_loans():
    return Loan.objects.filter(household__village__parent__parent__code=seed_regions.COUNTY_CODE)


def test_units_bank_and_profile(seeded):
    county = OrgUnit.objects.get(code=seed_regions.COUNTY_CODE)
    assert county.kind == OrgUnit.Kind.COUNTY and county.name == "示范县" and len(county.code) == 6
    townships = list(OrgUnit.objects.filter(parent=county))
    assert len(townships) == 3
    for township in townships:
        assert township.kind == OrgUnit.Kind.TOWNSHIP
        villages = list(OrgUnit.objects.filter(parent=township))
        assert len(villages) == 4
        for village in villages:
            assert village.kind == OrgUnit.Kind.VILLAGE
            assert (
                len(village.code) == 12 and village.code.isdigit() and village.code.startswith(township.code)
            )

    bank = OrgUnit.objects.get(code=seed_regions.BANK_CODE)
    assert bank.name == "示范县农村商业银行"
    branches = OrgUnit.objects.filter(parent=bank, kind=OrgUnit.Kind.BRANCH)
    served = [list(b.served_townships.all()) for b in branches]
    assert sorted(t.pk for ts in served for t in ts) == sorted(t.pk for t in townships)
    assert all(len(ts) == 1 for ts in served)

    (profile,) = PolicyProfile.objects.filter(county=county)
    assert profile.effective_from == datetime.date(2015, 1, 1)
    # Cited as an administrator writes it, in Chinese, without the P1/P5 codes (issue 14).
    assert "《桂林市临桂区扶贫小额信贷实施细则》" in profile.source_text
    assert "《XX区扶贫小额信贷工作实施方案》" in profile.source_text and "P1" not in profile.source_text


def test_one_account_per_role_all_with_the_demo_password(seeded):
    users = User.objects.filter(username__in=[a[0] for a in seed_regions.ACCOUNTS]).prefetch_related("roles")
    assert users.count() == len(seed_regions.ACCOUNTS)
    held = Counter(code for user in users for code in user.role_codes)
    assert set(held) == {code for code, _ in Role.CHOICES}
    for user in users:
        assert authenticate(login_request(), username=user.username, password=seed_regions.PASSWORD) == user
        assert not user.is_superuser
        for code in user.role_codes:
            assert user.unit.kind in Role.UNIT_KINDS[code]
    admin = users.get(username="admin")
    assert (
        admin.is_staff and admin.has_perm("accounts.change_user") and admin.has_perm("core.view_auditevent")
    )
    # Administrators unlock a login django-axes locked (issue 10).
    assert admin.has_perm("axes.delete_accessattempt")
    assert not users.get(username="cadre").is_staff
    # The table `make run` prints for newcomers: every account, its role in Chinese, and the password.
    for username, *_ in seed_regions.ACCOUNTS:
        assert username in seeded
    assert "村干部" in seeded and "银行审批人" in seeded and seed_regions.PASSWORD in seeded


def test_households_members_and_id_numbers(seeded):
    households = Household.objects.filter(village__parent__parent__code=seed_regions.COUNTY_CODE)
    assert households.count() == sum(seed_regions.HOUSEHOLDS_PER_VILLAGE) == 600
    villages = OrgUnit.objects.filter(
        kind=OrgUnit.Kind.VILLAGE, parent__parent__code=seed_regions.COUNTY_CODE
    )
    assert all(v.households.count() >= 30 for v in villages)

    statuses = Counter(households.values_list("poverty_status", flat=True))
    S = Household.PovertyStatus
    assert statuses[S.NOT_EXITED] + statuses[S.EXITED] >= 0.9 * 600
    assert statuses[S.NOT_EXITED] > 100 and statuses[S.EXITED] > 100
    assert 0 < statuses[S.MONITORED_EDGE] + statuses[S.MONITORED_SUDDEN] < 60
    assert not households.filter(poverty_status=S.EXITED, exited_on__isnull=True).exists()

    members = list(Member.objects.filter(household__in=households))
    per_household = Counter(m.household_id for m in members)
    assert set(per_household.values()) <= {2, 3, 4, 5} and len(per_household) == 600
    assert Counter(m.household_id for m in members if m.is_head) == Counter(dict.fromkeys(per_household, 1))
    relations = Counter(m.relation for m in members)
    assert relations[Member.Relation.SPOUSE] > 300 and relations[Member.Relation.CHILD] > 300

    numbers = [m.id_number for m in members]
    assert len(set(numbers)) == len(numbers)
    today = timezone.localdate()
    for member, number in zip(members, numbers, strict=True):
        info = idnumbers.parse(number)  # raises on a bad check character or birth date
        assert (info.birth_date, info.is_male) == (member.birth_date, member.is_male)
        assert member.id_number_masked == idnumbers.mask(number)
        if member.is_head:
            assert 18 <= member.age_on(today) <= 100
    assert sum(n.startswith(seed_regions.COUNTY_CODE) for n in numbers) > 0.8 * len(numbers)
    assert AuditEvent.objects.filter(action="household.create").count() == 600


def test_ratings_spread_over_the_bands_by_the_branch_officer(seeded):
    ratings = CreditRating.objects.filter(household__village__parent__parent__code=seed_regions.COUNTY_CODE)
    assert 0.8 * 600 <= ratings.values("household").distinct().count() <= 0.95 * 600
    grades = Counter(ratings.values_list("grade", flat=True))
    for grade in CreditRating.Grade.values:
        assert grades[grade] >= 30, grades
    today = timezone.localdate()
    assert ratings.filter(valid_from__lte=today, valid_to__gte=today).count() > 0.8 * ratings.count()
    for rating in ratings.select_related("rated_by", "household__village", "branch"):
        assert rating.rated_by.has_role(Role.LOAN_OFFICER) and rating.rated_by.unit == rating.branch
        assert rating.branch.served_townships.filter(pk=rating.household.village.parent_id).exists()

    # The planned blacklist: households never re-rated. The malicious defaulter of the servicing
    # demo (a borrower, rated before the loan) is tested with the other loans.
    planned = BlacklistEntry.objects.exclude(household__in=Loan.objects.values("household"))
    entries = planned.filter(household__in=Household.objects.filter(ratings__isnull=True).distinct())
    assert 2 <= planned.filter(removed_at__isnull=True).count() <= 3
    assert entries.count() == planned.count()
    assert all("P1" in e.reason and e.added_by.username == "county" for e in BlacklistEntry.objects.all())


def test_a_second_run_changes_nothing(seeded):
    before = row_counts()
    names_before = sorted(Member.objects.values_list("name", "id_number_hash"))
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert row_counts() == before
    assert sorted(Member.objects.values_list("name", "id_number_hash")) == names_before
    assert "本次新建 0 户" in out.getvalue()
    assert "贷款申请：本次新建 0 笔" in out.getvalue()
    assert "存量贷款：本次导入 0 笔" in out.getvalue()
    assert "本次新增结息记录 0 条、贷后检查 0 次" in out.getvalue()


def test_loan_applications_in_every_state(seeded):
    assert set(EXPECTED_STATES) == set(State.values)
    assert Counter(demo_applications().values_list("state", flat=True)) == EXPECTED_STATES
    assert f"贷款申请：本次新建 {len(seed_applications.APPLICATIONS)} 笔" in seeded
    # The demo cadre's own village goes through the whole flow; the bank's demo accounts see
    # the applications of their branch, and the other villages' cadres are printed too.
    cadre, officer, approver = (User.objects.get(username=u) for u in ("cadre", "officer", "approver"))
    assert set(loan_selectors.application_list(user=cadre).values_list("state", flat=True)) == set(
        State.values
    )
    branch_apps = loan_selectors.application_list(user=officer)
    assert branch_apps.count() >= 20
    # The bank sees every state but draft: a draft is the village's work in progress.
    assert set(branch_apps.values_list("state", flat=True)) == set(State.values) - {State.DRAFT}
    assert loan_selectors.application_list(user=approver).filter(state=State.BANK_APPROVAL).count() >= 2
    for username, *_ in seed_regions.VILLAGE_CADRES:
        assert authenticate(login_request(), username=username, password=seed_regions.PASSWORD).has_role(
            Role.VILLAGE_CADRE
        )
        assert username in seeded
    # One application per household, each borrower a member of age who can work.
    applications = list(demo_applications().select_related("borrower"))
    assert len({a.household_id for a in applications}) == len(applications)
    for app in applications:
        assert app.borrower.household_id == app.household_id
        assert app.borrower.labour_capacity != Member.Labour.NONE


def test_every_step_was_taken_by_the_user_whose_step_it_is(seeded):
    history = ApplicationHistory.objects.filter(application__in=demo_applications()).select_related(
        "by", "application__household__village"
    )
    assert {h.transition for h in history} == set(STEP_ROLES) | {"end_publicity"}
    for h in history:
        app = h.application
        if h.transition == "end_publicity":
            assert h.by is None
            continue
        assert h.by.has_role(STEP_ROLES[h.transition]), (h.transition, h.by)
        if STEP_ROLES[h.transition] == Role.VILLAGE_CADRE:
            assert h.by.unit_id == app.household.village_id
        elif STEP_ROLES[h.transition] == Role.LOAN_OFFICER:
            assert h.by.unit_id == app.branch_id
    investigated = demo_applications().filter(investigated_by__isnull=False)
    assert investigated.filter(state=State.BANK_APPROVAL).count() == EXPECTED_STATES[State.BANK_APPROVAL]
    for app in investigated.select_related("investigated_by", "approved_by", "branch"):
        assert app.investigation_findings and app.investigated_by.unit_id == app.branch_id
        if app.approved_by_id:
            assert app.approved_by.username == "approver" and app.investigated_by.username == "officer"
            assert app.rate is not None and app.approved_amount <= app.amount
    # One approval for less than was asked.
    assert demo_applications().filter(approved_amount__lt=F("amount")).count() == 1


def test_steps_happened_on_past_days_in_order(seeded):
    today = timezone.localdate()
    working = set(CalendarDay.objects.filter(is_working_day=True).values_list("date", flat=True))
    for app in demo_applications().prefetch_related("history", "notices"):
        times = [app.created_at] + [h.at for h in app.history.all()]
        assert times == sorted(times)
        assert timezone.localdate(times[-1]) <= today
        # People work on working days; the daily task that ends publicity runs every night.
        people = [app.created_at] + [h.at for h in app.history.all() if h.transition != "end_publicity"]
        assert {timezone.localdate(at) for at in people} <= working
        if app.submitted_on:
            assert app.submitted_on == timezone.localdate(app.history.all()[0].at)
        for notice in app.notices.all():
            assert notice.start_on <= today and notice.working_days == 5
            if notice.status == PublicityNotice.Status.RUNNING:
                assert app.state == State.PUBLICITY and notice.end_on >= today
    # Every notice whose days are over has been dealt with: the daily task finds nothing to do.
    assert loan_services.publicity_end_due(on_date=today) == []
    assert demo_applications().filter(state=State.PUBLICITY, notices__end_on__gt=today).exists()


def test_publicity_with_an_objection_that_went_back_to_village_review(seeded):
    (app,) = demo_applications().filter(objections__isnull=False)
    assert app.state == State.PUBLICITY
    assert list(app.history.values_list("transition", flat=True)) == [
        "submit",
        "village_approve",
        "object",
        "village_approve",
    ]
    assert Counter(app.notices.values_list("status", flat=True)) == {"suspended": 3, "running": 3}
    objection = app.objections.get()
    assert objection.raised_by.username == "township" and objection.notice.level == "township"


def test_disbursed_applications_have_their_loans(seeded):
    today = timezone.localdate()
    loans = list(
        Loan.objects.filter(application__in=demo_applications())
        .select_related("application", "disbursed_by")
        .order_by("disbursed_on")
    )
    assert len(loans) == EXPECTED_STATES[State.DISBURSED]
    for loan in loans:
        app = loan.application
        assert app.state == State.DISBURSED
        assert loan.outstanding == loan.amount == app.approved_amount
        assert re.fullmatch(rf"{loan.disbursed_on.year}HT\d{{4}}", loan.contract_no)
        assert loan.receipt_no == loan.contract_no.replace("HT", "JJ")
        assert loan.state == Loan.State.ACTIVE and loan.disbursed_by.username == "officer"
        assert app.approved_on <= loan.disbursed_on <= today
        assert loan.maturity_on == loan.disbursed_on + relativedelta(months=loan.term_months)
        assert (loan.household_id, loan.borrower_id, loan.rate) == (
            app.household_id,
            app.borrower_id,
            app.rate,
        )
    # Numbered in the order they were disbursed.
    assert [loan.contract_no for loan in loans] == sorted(loan.contract_no for loan in loans)


def test_refusals_and_withdrawals_keep_their_reasons(seeded):
    closed = demo_applications().filter(state__in=[State.REJECTED, State.WITHDRAWN])
    assert closed.count() == EXPECTED_STATES[State.REJECTED] + EXPECTED_STATES[State.WITHDRAWN]
    last_steps = set()
    for app in closed.prefetch_related("history", "notices"):
        last = list(app.history.all())[-1]
        assert app.decision_reason and last.comment == app.decision_reason
        last_steps.add(last.transition)
        assert not any(n.status == PublicityNotice.Status.RUNNING for n in app.notices.all())
    assert last_steps == {"village_reject", "decline", "reject", "withdraw"}


def test_existing_loans_imported_from_the_books(seeded):
    today = timezone.localdate()
    imported = list(demo_loans().filter(imported=True).select_related("household__village", "branch"))
    assert len(imported) == len(seed_loans.IMPORTED_LOANS) == 30
    assert "存量贷款：本次导入 30 笔" in seeded
    for loan in imported:
        assert re.fullmatch(rf"{loan.disbursed_on.year}CL\d{{4}}", loan.contract_no)
        assert loan.application_id is None and loan.disbursed_by is None
        assert loan.household.ratings.exists()
        assert loan.branch.served_townships.filter(pk=loan.household.village.parent_id).exists()
        if loan.use_mode == "self":
            months = relativedelta(today, loan.disbursed_on)
            assert 6 <= months.years * 12 + months.months <= 30
    # Every borrower household has one loan and no application of the planned workflow.
    households = [loan.household_id for loan in demo_loans()]
    assert len(households) == len(set(households))
    assert not demo_applications().filter(household__in=[loan.household_id for loan in imported]).exists()
    (entrusted,) = [loan for loan in imported if loan.use_mode != "self"]
    assert entrusted.use_mode == "entrusted" and entrusted.entity_name
    assert entrusted.disbursed_on < datetime.date(2017, 12, 7)
    assert AuditEvent.objects.filter(action="loan.import").count() == 3


def test_loans_in_every_servicing_state_and_overdue_bucket(seeded):
    states = Counter(demo_loans().values_list("state", flat=True))
    for state in (Loan.State.ACTIVE, Loan.State.OVERDUE, Loan.State.EXTENDED, Loan.State.SETTLED):
        assert states[state] >= 1, states
    assert states[Loan.State.OVERDUE] >= 6
    open_loans = demo_loans().filter(state__in=Loan.OPEN_STATES)
    for bucket in BUCKETS:
        assert open_loans.filter(bucket.q()).exists(), bucket.key
    # Ageing is done: the daily task on the same day finds nothing to change.
    assert overdue_refresh(on_date=timezone.localdate())["changed"] == 0
    for loan in open_loans.exclude(state=Loan.State.EXTENDED):
        assert (loan.state == Loan.State.OVERDUE) == (loan.days_past_due > 0)
    assert demo_loans().get(use_mode="entrusted").classification == Classification.LOSS


def test_settlements_from_the_bank_lists(seeded):
    today = timezone.localdate()
    settlements = Settlement.objects.filter(loan__in=demo_loans()).select_related("loan", "recorded_by")
    assert settlements.count() > 100
    # Every loan disbursed before the last settlement day has its interest settled.
    with_settlements = set(settlements.values_list("loan", flat=True))
    for loan in demo_loans().exclude(pk__in=with_settlements):
        assert loan.disbursed_on > today - datetime.timedelta(days=92)
    for s in settlements:
        assert s.source == Settlement.Source.IMPORT and s.recorded_by.unit_id == s.loan.branch_id
        assert s.period_end < today and s.period_start >= s.loan.disbursed_on
        if s.paid_on:
            assert s.paid_on <= today and s.interest_paid == s.interest_due
            on_time = s.paid_on.day in (20, 21) or s.paid_on == s.period_end
            assert on_time or s.penalty_paid > 0
    unpaid = settlements.filter(paid_on__isnull=True)
    assert unpaid.count() >= 5 and all(s.interest_paid == 0 for s in unpaid)
    assert AuditEvent.objects.filter(action="settlement.paid_late").count() == 1
    before = settlements.count()
    call_command("seed_demo", stdout=StringIO())
    assert settlements.count() == before


def test_repayments_and_settlement(seeded):
    repayments = Repayment.objects.filter(loan__in=demo_loans()).select_related("loan")
    assert repayments.count() >= 3
    (last,) = [r for r in repayments if r.outstanding_after == 0]
    assert last.loan.state == Loan.State.SETTLED and last.loan.settled_on == last.paid_on
    for r in repayments:
        assert r.recorded_by.has_role(Role.LOAN_OFFICER) and r.loan.outstanding <= r.outstanding_after


def test_checks_and_classification(seeded):
    today = timezone.localdate()
    open_loans = demo_loans().filter(state__in=Loan.OPEN_STATES)
    # Every open loan has its next check scheduled.
    assert (
        PostLoanCheck.objects.filter(loan__in=open_loans, done_on__isnull=True).count() == open_loans.count()
    )
    done = PostLoanCheck.objects.filter(loan__in=demo_loans(), done_on__isnull=False).select_related("loan")
    assert done.count() >= 3
    for check in done:
        assert check.done_on <= today and check.findings and check.officer.unit_id == check.loan.branch_id
    assert done.filter(funds_as_agreed=False).exists()
    changes = ClassificationChange.objects.filter(loan__in=demo_loans())
    assert changes.filter(reason=AUTO_REASON, by__isnull=True).count() >= 6
    (worse,) = changes.filter(by__username="officer")
    assert CLASSIFICATION_ORDER.index(worse.to_class) > CLASSIFICATION_ORDER.index(worse.floor)
    assert worse.reason and worse.loan.classification == worse.to_class


def test_extension_renewal_blacklist_death_and_insurance(seeded):
    (extension,) = Extension.objects.filter(loan__in=demo_loans()).select_related("loan")
    assert extension.status == Extension.Status.APPROVED
    assert (extension.requested_by.username, extension.decided_by.username) == ("officer", "approver")
    assert (
        extension.loan.state == Loan.State.EXTENDED
        and extension.loan.maturity_on == extension.new_maturity_on
    )
    assert extension.loan.classification == Classification.SPECIAL_MENTION
    assert ClassificationChange.objects.filter(loan=extension.loan, reason=EXTENSION_CLASS_REASON).exists()

    (renewal,) = LoanApplication.objects.filter(kind=LoanApplication.Kind.RENEWAL)
    assert renewal.state == State.DRAFT and renewal.created_by.username == "cadre"
    assert renewal.related_loan.imported and renewal.amount == renewal.related_loan.outstanding

    (entry,) = BlacklistEntry.objects.filter(household__in=demo_loans().values("household"))
    assert entry.removed_at is None and entry.added_by.username == "county" and "恶意逃债" in entry.reason
    assert demo_loans().get(household=entry.household).state == Loan.State.OVERDUE

    (event,) = BorrowerEvent.objects.all()
    assert event.kind == BorrowerEvent.Kind.DEATH
    (payout,) = InsurancePayout.objects.select_related("policy__loan")
    loan = payout.policy.loan
    assert loan.borrower_id == event.member_id and payout.paid_on > event.occurred_on
    assert loan.outstanding == loan.amount - payout.amount


def test_the_plan_is_the_same_every_time():
    maxima = [30, 20, 20, 15, 15]
    first, second = seed_households.Planner(maxima).plan(), seed_households.Planner(maxima).plan()
    assert first == second
    for household in first:
        if household.rating_scores is not None:
            assert all(0 <= s <= m for s, m in zip(household.rating_scores, maxima, strict=True))


def test_the_fund_with_a_top_up_and_a_quarters_interest(seeded):
    from decimal import Decimal

    from riskfund.models import LedgerTransaction, RiskFund
    from riskfund.services import ledger

    fund = RiskFund.objects.get(county__code=seed_regions.COUNTY_CODE)
    kinds = Counter(LedgerTransaction.objects.filter(fund=fund).values_list("kind", flat=True))
    assert kinds["deposit"] == 2 and kinds["interest"] == 1 and kinds["compensation"] == 1
    working = set(CalendarDay.objects.filter(is_working_day=True).values_list("date", flat=True))
    for txn in LedgerTransaction.objects.filter(fund=fund).prefetch_related("entries"):
        assert sum(e.amount for e in txn.entries.all()) == 0
        assert txn.booked_on in working and txn.booked_on <= DAY
        assert txn.created_by.username == "finance"
    # Interest on the quarter's interest day (the 21st of March 2026 was a Saturday): 0.35 % a
    # year for 90 days on the 4 million then held.
    interest = LedgerTransaction.objects.get(fund=fund, kind="interest")
    assert interest.booked_on == datetime.date(2026, 3, 23)
    assert interest.entries.get(account="fund").amount == Decimal("3500.00")
    moves = LedgerTransaction.objects.filter(fund=fund).prefetch_related("entries")
    assert ledger.balance(fund) == sum(
        e.amount for t in moves for e in t.entries.all() if e.account == "fund"
    )


def test_claims_in_every_state_through_the_workflow(seeded):
    from riskfund.models import CompensationClaim

    claims = list(
        CompensationClaim.objects.select_related("loan", "filed_by", "reviewed_by", "decided_by", "paid_by")
    )
    assert Counter(c.state for c in claims) == Counter(
        {"paid": 1, "rejected": 1, "approved": 1, "reviewed": 1, "filed": 1}
    )
    for claim in claims:
        assert claim.eligible_on <= timezone.localdate(claim.filed_at)
        assert claim.loss == claim.principal + claim.interest - claim.insurance_paid
        assert claim.fund_share + claim.bank_share == claim.loss
        assert claim.filed_by.username in seed_loans.OFFICERS
        assert claim.history.first().transition == "file"
    by_state = {c.state: c for c in claims}
    paid = by_state["paid"]
    assert (paid.reviewed_by.username, paid.decided_by.username, paid.paid_by.username) == (
        "county",
        "committee",
        "finance",
    )
    assert paid.loan.state == Loan.State.COMPENSATED
    assert [h.transition for h in paid.history.all()] == ["file", "review", "approve", "pay"]
    # The rejected claim's loan was filed again with the missing papers.
    assert by_state["filed"].loan_id == by_state["rejected"].loan_id
    for state in ("approved", "reviewed", "filed"):
        assert by_state[state].loan.state in Loan.OPEN_STATES


def test_recoveries_returned_on_time_late_and_still_out(seeded):
    from decimal import Decimal

    from riskfund import selectors as fund_selectors
    from riskfund.models import LedgerTransaction, Recovery

    recoveries = list(Recovery.objects.order_by("received_on"))
    assert len(recoveries) == 3
    on_time, late, out = recoveries
    assert on_time.returned_on <= on_time.due_on
    assert late.returned_on > late.due_on and fund_selectors.days_late(late) > 0
    assert (
        out.returned_on is None
        and out.due_on < DAY
        and fund_selectors.days_late(out) == (DAY - out.due_on).days
    )
    # 1,234.57 at 0.8 with the remainder fen to the bank: 987.65 and 246.92.
    assert (late.amount, late.fund_share, late.bank_share) == (
        Decimal("1234.57"),
        Decimal("987.65"),
        Decimal("246.92"),
    )
    for r in (on_time, late):
        txn = LedgerTransaction.objects.get(recovery=r)
        assert txn.booked_on == r.returned_on and txn.entries.get(account="fund").amount == r.fund_share
    county = User.objects.get(username="county")
    assert {r.pk for r in fund_selectors.recovery_list(county, tab="late")} == {late.pk, out.pk}
