"""The loans' lives after disbursement: the branches' imported books, settlement lists, repayments,
changes (extension, renewal, death, malicious default) and post-loan checks."""

from __future__ import annotations

import csv
import datetime
import io
import random
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from config import daily
from core.models import JobRun
from demo.dates import clock
from demo.regions import SEED
from households.models import Household, Member
from loans.choices import Classification
from loans.interest import interest_for, schedule, settlement_dates
from loans.models import BorrowerEvent, InsurancePolicy, Loan, PostLoanCheck
from loans.services import borrowers, changes, import_rows, servicing, settlement_list
from loans.services import imports as loan_imports
from loans.services.checks import check_record
from policies.exceptions import CalendarMissing
from policies.selectors import contract_rate_for
from subsidies.models import SubsidyBatch, SubsidyLine

# Loans after disbursement ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedLoan:
    """An existing loan (存量贷款) the branch imports from its books when the county starts using
    the system, and what happens to it afterwards (`story`). The maturity is placed `matures_in`
    days from the day of the run (negative: already matured) and the disbursement `term_months`
    before it, so the overdue ages are the same whenever the demo is seeded."""

    village: str
    story: str
    amount: int
    term_months: int
    matures_in: int
    purpose: str
    disbursed_on: datetime.date | None = None  # fixed dates instead, for the old entrusted loan
    maturity_on: datetime.date | None = None
    entity_name: str = ""


# Stories: current (interest paid every quarter), settled (repaid before the import), overdue
# (principal unpaid since maturity: the buckets of the overdue list), unpaid1 / unpaid2 (the last
# one or two quarters' interest unpaid), late (one quarter paid three weeks late), partial (part of
# the principal repaid), repaid (repaid in full at maturity: 结清), extend (extended, 展期), renew
# (a renewal application the cadre has started), death (the borrower died; the accident insurance
# paid part of the loan), malicious (a malicious defaulter, on the blacklist), entrusted (户贷企用
# through a cooperative before 2017-12-07, unpaid since its enterprise failed).
# fmt: off
IMPORTED_LOANS = [
    PlannedLoan("0.0", "current", 50000, 36, 400, "种植"),
    PlannedLoan("0.0", "extend", 30000, 12, 20, "养殖"),
    PlannedLoan("0.0", "renew", 50000, 24, 45, "种植"),
    PlannedLoan("0.0", "overdue", 20000, 12, -20, "养殖"),
    PlannedLoan("0.0", "repaid", 30000, 24, -40, "购销"),
    PlannedLoan("0.0", "partial", 50000, 36, 300, "养殖"),
    PlannedLoan("0.0", "settled", 20000, 12, -420, "种植"),
    PlannedLoan("0.0", "late", 30000, 24, 250, "服务业"),
    PlannedLoan("0.0", "death", 50000, 36, 500, "养殖"),
    PlannedLoan("0.0", "entrusted", 50000, 36, 0, "养殖",
                datetime.date(2017, 6, 15), datetime.date(2020, 6, 15), "示范县青山生态养殖专业合作社"),
    PlannedLoan("0.1", "current", 30000, 24, 200, "种植"),
    PlannedLoan("0.1", "overdue", 50000, 24, -60, "养殖"),
    PlannedLoan("0.1", "unpaid1", 20000, 24, 180, "种植"),
    PlannedLoan("0.1", "settled", 10000, 12, -300, "服务业"),
    PlannedLoan("0.2", "current", 50000, 36, 600, "乡村旅游"),
    PlannedLoan("0.2", "overdue", 30000, 12, -150, "养殖"),
    PlannedLoan("0.2", "partial", 20000, 24, 90, "种植"),
    PlannedLoan("0.3", "current", 30000, 36, 700, "种植"),
    PlannedLoan("0.3", "malicious", 50000, 12, -300, "购销"),
    PlannedLoan("0.3", "unpaid2", 30000, 24, 120, "养殖"),
    PlannedLoan("1.0", "current", 50000, 36, 450, "养殖"),
    PlannedLoan("1.1", "overdue", 20000, 12, -220, "种植"),
    PlannedLoan("1.2", "current", 30000, 24, 150, "服务业"),
    PlannedLoan("1.3", "settled", 30000, 12, -380, "种植"),
    PlannedLoan("1.0", "partial", 50000, 36, 350, "养殖"),
    PlannedLoan("2.0", "current", 30000, 24, 250, "种植"),
    PlannedLoan("2.1", "unpaid1", 50000, 36, 420, "养殖"),
    PlannedLoan("2.2", "current", 20000, 12, 60, "购销"),
    PlannedLoan("2.3", "overdue", 30000, 12, -45, "种植"),
    PlannedLoan("2.0", "current", 50000, 36, 520, "乡村旅游"),
]
# fmt: on
# The county starts using the system (and the branches import their books) this many working
# days before the day of the run; every imported loan was disbursed before it.
GO_LIVE_WORKING_DAYS = 130
EXTENSION_REASON = (
    "借款人养殖的肉牛受今年夏季持续暴雨影响出栏推迟，预计延后半年出售，属非主观原因暂时无法按期还款，"
    "本人书面申请展期6个月。"
)
EXTENSION_COMMENT = "经核实，借款人还款意愿良好，养殖项目正常，同意展期6个月。"
MALICIOUS_REASON = (
    "贷款到期后借款人有稳定的购销收入，经银行、村两委多次上门催收仍拒不归还本息，并将货款转入他人账户，"
    "认定为恶意逃债，列入扶持黑名单（P1 第二十二条）。"
)
WORSE_CLASS_REASON = (
    "贷后检查发现借款人养殖的生猪因疫病死亡过半，经营收入锐减，第一还款来源明显不足，下调为次级。"
)
INSURER = "中国人民财产保险股份有限公司示范县支公司"
DEATH_PAYOUT = Decimal("20000.00")
RENEWAL_DETAIL = "续贷：继续种植砂糖橘，用于果园施肥、修剪和病虫害防治。"
# The loan officer of each branch (branch n serves township n).
OFFICERS = ["officer", "officer2", "officer3"]
CHECK_FINDINGS = [
    "入户查看：贷款资金已按约定用于生产，项目经营正常，借款人家庭收入稳定，按时结息。",
    "入户查看：资金按约定用途使用，但生猪因疫病死亡过半，借款人暂无其他收入来源。",
    "入户查看：发现部分贷款资金被用于建房，未完全按约定用途使用，已责令借款人限期整改。",
    "首次贷后检查：资金已按约定用途使用，项目已开始实施，借款人还款意愿良好。",
]


def csv_file(rows: list[list]) -> io.BytesIO:
    """A UTF-8 CSV in memory, as the bank's system exports it."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(
            ["" if v is None else v.isoformat() if isinstance(v, datetime.date) else str(v) for v in row]
        )
    return io.BytesIO(out.getvalue().encode("utf-8"))


class SeedLoans:
    """Loans after disbursement; mixed into the `seed_demo` command."""

    # Loans after disbursement -------------------------------------------------------------

    def servicing(self, units, users, profile) -> None:
        """The county's existing loans imported from the branches' books on the day it started
        using the system, then everything since, in the order it happened: the quarterly
        settlement lists, repayments, a death and its insurance payout, an extension, a renewal
        started, a malicious defaulter, the daily tasks, the post-loan checks and the subsidy
        batches. Skipped as a whole once the county has imported loans, so a second run adds
        nothing. Should a date the story needs fall in a year the calendar lacks, the loans'
        story is left out, and the output says which year an administrator must enter."""
        county_loans = Loan.objects.filter(household__village__parent__parent=units["county"])
        if county_loans.filter(imported=True).exists() or self.last_working is None:
            return
        try:
            with transaction.atomic():
                self.service_loans(units, users, profile, county_loans)
        except CalendarMissing as e:
            self.missing_years.add(e.year)
            self.counts |= {"loans": 0, "settlements": 0, "checks": 0, "subsidy_lines": 0}
            self.notes.append(f"存量贷款及其贷后管理未载入 (existing loans left out)：{e.message}")

    def service_loans(self, units, users, profile, county_loans) -> None:
        self.go_live = self.days.back(self.last_working, GO_LIVE_WORKING_DAYS)
        self.officers = {units["branches"][i].pk: users[name] for i, name in enumerate(OFFICERS)}
        stories = self.import_loans(units, users, profile)
        loans = {loan.contract_no: loan for loan in county_loans.select_related("branch", "borrower")}
        by_story: dict[str, list[Loan]] = {}
        for contract_no, story in stories.items():
            by_story.setdefault(story, []).append(loans[contract_no])
        self.repayments = self.planned_repayments(by_story)
        events: list[tuple[datetime.datetime, int, object]] = []
        events += self.settlement_lists(loans, stories, profile)
        events += self.repayment_events()
        events += self.change_events(by_story, users)
        # The daily tasks of the night before the last working day, then the checks the officers
        # recorded that day.
        events += self.daily_task_events(self.last_working)
        events += self.check_events(by_story, county_loans)
        with_batches = not SubsidyBatch.objects.filter(county=units["county"]).exists()
        if with_batches:
            events += self.subsidy_events(units["county"], users)
            self.batches_told = True
        self.run_events(events)
        if self.today > self.last_working:
            # Today is not a working day (or not one the calendar knows): the tasks ran last night too.
            self.run_events(self.daily_task_events(self.today))
        if with_batches:
            self.counts["subsidy_lines"] = SubsidyLine.objects.filter(batch__county=units["county"]).count()

    def daily_task_events(self, day: datetime.date) -> list:
        """The nightly ageing of overdue loans and the scheduling of post-loan checks (beat times),
        run as the scheduler runs them, so the jobs page records the night's runs (issue 14)."""
        demo = JobRun.Trigger.DEMO
        return [
            (
                self.at(day, 0, 30),
                0,
                lambda: daily.job_run_here("loans.refresh_overdue", trigger=demo, on_date=day),
            ),
            (
                self.at(day, 0, 45),
                0,
                lambda: daily.job_run_here("loans.schedule_checks", trigger=demo, on_date=day),
            ),
        ]

    def loan_dates(self, planned: PlannedLoan) -> tuple[datetime.date, datetime.date]:
        if planned.disbursed_on:
            return planned.disbursed_on, planned.maturity_on
        maturity = self.story_day + datetime.timedelta(days=planned.matures_in)
        disbursed = maturity - relativedelta(months=planned.term_months)
        if disbursed >= self.go_live:
            raise CommandError(f"Demo loan {planned} is disbursed after the county went live")
        return disbursed, maturity

    def import_loans(self, units, users, profile) -> dict[str, str]:
        """One CSV per branch, as its officer would upload it; returns each contract's story."""
        candidates = self.candidate_households(units, profile)
        dated = sorted(
            ((p, *self.loan_dates(p)) for p in IMPORTED_LOANS), key=lambda item: (item[1], item[0].village)
        )
        numbers: dict[int, int] = {}
        files: dict[int, list[list[str]]] = {}
        stories = {}
        for planned, disbursed, maturity in dated:
            household, borrower = self.pick_for_import(planned, candidates, profile, disbursed, maturity)
            year = disbursed.year
            numbers[year] = numbers.get(year, 0) + 1
            contract_no = f"{year}CL{numbers[year]:04d}"
            settled = planned.story == "settled"
            files.setdefault(int(planned.village.split(".")[0]), []).append(
                [
                    household.registration_no,
                    borrower.id_number,
                    contract_no,
                    f"{year}DJ{numbers[year]:04d}",
                    f"{planned.amount}.00",
                    str(
                        contract_rate_for(
                            basis=profile.rate_basis, term_months=planned.term_months, contract_date=disbursed
                        ).annual_rate
                    ),
                    disbursed.isoformat(),
                    maturity.isoformat(),
                    "0.00" if settled else f"{planned.amount}.00",
                    "户贷企用" if planned.entity_name else "户借户用户还",
                    planned.entity_name,
                    planned.purpose,
                    maturity.isoformat() if settled else "",
                    f"622148{planned.village.replace('.', '')}{year}{numbers[year]:07d}",
                ]
            )
            stories[contract_no] = planned.story
        header = [c.header for c in import_rows.COLUMNS if c.key != "rate_basis"]
        for t_index, rows in sorted(files.items()):
            officer = users[OFFICERS[t_index]]
            with clock(self.at(self.go_live, 10, 15 * t_index)):
                self.counts["loans"] += loan_imports.import_loans(
                    acting_user=officer,
                    file=csv_file([header, *rows]),
                    filename=f"{officer.unit.name}存量贷款{self.go_live:%Y%m%d}.csv",
                )
        return stories

    def pick_for_import(self, planned, candidates, profile, first, last) -> tuple[Household, Member]:
        """The first rated candidate of the village with a head or spouse of age to borrow over
        the whole loan; for the extension and the renewal one still registered poor."""
        pool = candidates.get(planned.village, [])
        for household in pool:
            if not household.ratings.all():
                continue
            borrower = next(
                (
                    m
                    for m in household.members.all()
                    if m.relation in (Member.Relation.HEAD, Member.Relation.SPOUSE)
                    and m.labour_capacity != Member.Labour.NONE
                    and profile.age_min <= m.age_on(first)
                    and m.age_on(last) <= profile.age_max
                ),
                None,
            )
            if borrower is None:
                continue
            pool.remove(household)
            return household, borrower
        raise CommandError(f"No household in village {planned.village} fits the demo loan {planned}")

    def planned_repayments(self, by_story) -> list[tuple[Loan, datetime.date, Decimal, str, datetime.date]]:
        """(loan, day, principal, note, recorded on): part of the principal on the first settlement
        day after going live, the repaid loan in full at maturity, and the insurer's payout after
        the death. The officer records each on the first working day from the day it was paid; one
        that day cannot be dated on (in a year the calendar lacks) is left out."""
        first_day = settlement_dates(self.go_live - datetime.timedelta(days=1), self.story_day)[0]
        planned = [
            (
                loan,
                first_day,
                (loan.amount / 5).quantize(Decimal("1")),
                "借款人出售农产品后提前归还部分本金。",
            )
            for loan in by_story["partial"]
        ]
        planned += [
            (loan, loan.maturity_on, loan.amount, "到期一次性归还全部本金，贷款结清。")
            for loan in by_story["repaid"]
        ]
        planned += [
            (loan, self.payout_day(), DEATH_PAYOUT, "意外伤害保险理赔款直接归还贷款本金。")
            for loan in by_story["death"]
        ]
        repayments = []
        for loan, day, principal, note in planned:
            try:
                recorded_on = self.days.after(day, 0)
            except CalendarMissing as e:
                self.missing_years.add(e.year)
                recorded_on = None
            if recorded_on is None or recorded_on > self.last_working:
                self.notes.append(f"{loan.contract_no} 于 {day} 的还款未登记 (repayment not recorded)")
                continue
            repayments.append((loan, day, principal, note, recorded_on))
        return repayments

    def death_day(self) -> datetime.date:
        return self.story_day - datetime.timedelta(days=100)

    def payout_day(self) -> datetime.date:
        return self.days.after(self.story_day - datetime.timedelta(days=55), 0)

    def principal_on(self, loan: Loan, day: datetime.date) -> Decimal:
        repaid = sum((p for r, d, p, *_rest in self.repayments if r.pk == loan.pk and d <= day), Decimal(0))
        return loan.amount - repaid

    def settlement_lists(self, loans: dict[str, Loan], stories: dict[str, str], profile) -> list:
        """The banks' settlement lists (结息清单): the history up to going live, then one list a
        quarter two working days after the settlement day (from the day that has come), and one on
        the last working day for periods that ended since (at maturity). Interest is paid on the
        settlement day or the next; the overdue stories leave periods unpaid, and the late one is
        unpaid in its list and paid in the next."""
        day = profile.settlement_day
        cuts, list_days = [], []
        for cut in settlement_dates(self.go_live - datetime.timedelta(days=1), self.story_day, day):
            try:
                list_day = self.days.after(cut, 2)
            except CalendarMissing as e:
                self.missing_years.add(e.year)
                break
            if list_day > self.last_working:
                break
            cuts.append(cut)
            list_days.append(list_day)
        recent = settlement_dates(self.story_day - datetime.timedelta(days=200), self.story_day, day)
        moments = [self.at(self.go_live, 15)]
        moments += [self.at(list_day, 10, 30) for list_day in list_days]
        moments.append(self.at(self.last_working, 17))
        lists: list[list[tuple[Loan, list[str]]]] = [[] for _ in moments]

        def index_of(end: datetime.date) -> int:
            if end < self.go_live:
                return 0
            return next((i + 1 for i, cut in enumerate(cuts) if end <= cut), len(cuts) + 1)

        for contract_no, loan in sorted(loans.items()):
            story = stories.get(contract_no, "current")
            rng = random.Random(f"{SEED}-{contract_no}")
            for period in schedule(
                disbursed_on=loan.disbursed_on, maturity_on=loan.maturity_on, settlement_day=day
            ):
                if period.end >= self.last_working:
                    break
                principal = self.principal_on(loan, period.start)
                due = interest_for(principal, loan.rate, period.days)
                unpaid = (
                    (story in ("overdue", "malicious") and period.end == loan.maturity_on)
                    or (story == "entrusted" and period.end >= datetime.date(2020, 1, 1))
                    or (story == "unpaid1" and period.end == recent[-1])
                    or (story == "unpaid2" and period.end in recent[-2:])
                    or (story == "late" and period.end == cuts[0])
                )
                k = index_of(period.end)
                list_day = timezone.localdate(moments[k])
                paid_on = min(period.end + datetime.timedelta(days=rng.choice([0, 0, 1])), list_day)
                if period.end == loan.maturity_on:
                    paid_on = period.end
                row = [contract_no, period.start, period.end, principal, loan.rate, due]
                if unpaid:
                    lists[k].append((loan, [*row, Decimal(0), Decimal(0), ""]))
                else:
                    lists[k].append((loan, [*row, due, Decimal(0), paid_on]))
                if story == "late" and unpaid:
                    late_on = min(
                        period.end + datetime.timedelta(days=23), timezone.localdate(moments[k + 1])
                    )
                    penalty = max(interest_for(due, loan.rate * Decimal("1.5"), 23), Decimal("0.01"))
                    lists[k + 1].append((loan, [*row, due, penalty, late_on]))
        header = [c.header for c in settlement_list.COLUMNS]
        events = []
        for k, (moment, rows) in enumerate(zip(moments, lists, strict=True)):
            per_branch: dict[int, list[list]] = {}
            for loan, row in rows:
                per_branch.setdefault(loan.branch_id, []).append(row)
            for branch_id, branch_rows in sorted(per_branch.items()):
                officer = self.officers[branch_id]
                name = f"{officer.unit.name}结息清单{timezone.localdate(moment):%Y%m%d}.csv"
                events.append((moment, k, self.settlement_import_action(officer, branch_rows, header, name)))
        return events

    def settlement_import_action(self, officer, rows, header, filename):
        def run():
            # The demo's lists come from loans/interest.py's schedule: end dates not counted.
            result = settlement_list.settlement_import(
                acting_user=officer, file=csv_file([header, *rows]), filename=filename, end_date_counted=False
            )
            self.counts["settlements"] += result.created

        return run

    def repayment_events(self) -> list:
        events = []
        for loan, day, principal, note, recorded_on in self.repayments:
            officer = self.officers[loan.branch_id]
            events.append(
                (
                    self.at(recorded_on, 15),
                    0,
                    lambda loan=loan, day=day, principal=principal, note=note, officer=officer: (
                        servicing.repayment_record(
                            acting_user=officer, loan=loan, principal=principal, paid_on=day, note=note
                        )
                    ),
                )
            )
        return events

    def change_events(self, by_story, users) -> list:
        events = []
        officer, approver = users["officer"], users["approver"]
        for loan in by_story["extend"]:
            holder: dict = {}

            def request(loan=loan, holder=holder):
                holder["extension"] = changes.extension_request(
                    acting_user=officer, loan=loan, months=6, reason=EXTENSION_REASON
                )

            def decide(holder=holder):
                changes.extension_decide(
                    acting_user=approver,
                    extension=holder["extension"],
                    approve=True,
                    comment=EXTENSION_COMMENT,
                )

            events.append((self.at(self.days.back(self.last_working, 4), 10), 0, request))
            events.append((self.at(self.days.back(self.last_working, 2), 16), 0, decide))
        for loan in by_story["renew"]:
            events.append(
                (
                    self.at(self.days.back(self.last_working, 1), 9, 40),
                    0,
                    lambda loan=loan: changes.renewal_start(
                        acting_user=users["cadre"],
                        loan=loan,
                        term_months=24,
                        purpose_detail=RENEWAL_DETAIL,
                    ),
                )
            )
        for loan in by_story["malicious"]:
            events.append(
                (
                    self.at(self.days.back(self.last_working, 3), 15),
                    0,
                    lambda loan=loan: borrowers.loan_mark_malicious_default(
                        acting_user=users["county"], loan=loan, reason=MALICIOUS_REASON
                    ),
                )
            )
        for loan in by_story["death"]:
            holder = {}
            officer_of = self.officers[loan.branch_id]

            def policy(loan=loan, holder=holder, officer_of=officer_of):
                holder["policy"] = borrowers.insurance_policy_add(
                    acting_user=officer_of,
                    loan=loan,
                    kind=InsurancePolicy.Kind.ACCIDENT,
                    insurer=INSURER,
                    policy_no=f"PICC{loan.contract_no}",
                    premium=Decimal("100.00"),
                    starts_on=loan.disbursed_on,
                    ends_on=loan.maturity_on,
                    fiscal_paid=True,
                )

            def death(loan=loan, officer_of=officer_of):
                borrowers.borrower_event_record(
                    acting_user=officer_of,
                    member=loan.borrower,
                    kind=BorrowerEvent.Kind.DEATH,
                    occurred_on=self.death_day(),
                    note="借款人驾驶农用三轮车外出时发生交通事故身故，家属已提供死亡证明。",
                )

            def payout(holder=holder, officer_of=officer_of):
                borrowers.insurance_payout_record(
                    acting_user=officer_of,
                    policy=holder["policy"],
                    amount=DEATH_PAYOUT,
                    paid_on=self.payout_day(),
                    reason="借款人意外身故，保险公司按意外伤害保险金额赔付，赔款直接归还贷款本金。",
                )

            events.append((self.at(self.go_live, 11), 0, policy))
            events.append((self.at(self.days.after(self.death_day(), 2), 10), 0, death))
            events.append((self.at(self.payout_day(), 14), 0, payout))
        return events

    def check_events(self, by_story, county_loans) -> list:
        """A few post-loan checks done in the last weeks and recorded on the last working day: one
        on a new loan, one on an old one, one finding the funds misused, and one classifying a loan
        worse than its floor."""
        # Overdue loans by age: the youngest (1-30 days) and the one 91-180 days past due.
        overdue = sorted(by_story["overdue"], key=lambda loan: loan.maturity_on, reverse=True)
        first_new = county_loans.filter(imported=False).order_by("disbursed_on", "pk").first()
        planned = [
            (by_story["current"][0], 8, True, CHECK_FINDINGS[0], None, ""),
            (by_story["current"][-1], 6, True, CHECK_FINDINGS[0], None, ""),
            (overdue[0], 2, True, CHECK_FINDINGS[1], Classification.SUBSTANDARD, WORSE_CLASS_REASON),
            (overdue[3], 5, False, CHECK_FINDINGS[2], None, ""),
        ]
        if first_new is not None:
            planned.append((first_new, 10, True, CHECK_FINDINGS[3], None, ""))

        def record(loan, back, as_agreed, findings, classification, reason):
            loan.refresh_from_db()
            check = PostLoanCheck.objects.get(loan=loan, done_on__isnull=True)
            check_record(
                acting_user=self.officers[loan.branch_id],
                check=check,
                done_on=max(self.days.back(self.last_working, back), loan.disbursed_on),
                funds_as_agreed=as_agreed,
                findings=findings,
                classification=classification or loan.classification,
                classification_reason=reason,
            )
            self.counts["checks"] += 1

        return [
            (self.at(self.last_working, 16, n), 0, lambda args=args: record(*args))
            for n, args in enumerate(planned)
        ]
