"""The demo county's risk-compensation fund (DOMAIN §8): its co-managed account at the bank, opened
before the first loan with the county's deposit, so the leverage cap lets the demo's loans through;
then, once the loans' story is told, a top-up, a quarter's interest, loss claims on the overdue and
long-matured loans in every state of their workflow (filed, reviewed, approved, rejected, paid),
and recoveries on the paid claim: one whose fund share went back on time, one returned late and
one still out past its due day. Every step goes through the services on a working day the
calendar knows, on or before the last working day (`clock`), placed relative to the day of the
run, so the demo shows the same story whichever day it is seeded."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from loans.classification import bucket_for
from loans.models import Loan
from policies.exceptions import CalendarMissing
from policies.selectors import profile_for
from riskfund import claim_rules
from riskfund.models import CompensationClaim, LedgerTransaction, RiskFund
from riskfund.services import claims, ledger, recoveries

from .dates import clock

OPENING_DEPOSIT = Decimal("3000000.00")
TOP_UP = Decimal("1000000.00")
# The co-managed account earns the demand-deposit rate, credited on the 21st of a quarter's last month.
INTEREST_RATE = Decimal("0.0035")
TOP_UP_WORKING_DAYS = 60
# The paid claim: filed on the day its trigger opened but no earlier than PAID_BACK working days
# before the last working day, and no later than PAID_LATEST (so its recoveries fit before
# today); then reviewed, approved and paid this many working days after filing.
PAID_BACK, PAID_LATEST = 50, 24
PAID_STEPS = {"review": 2, "approve": 4, "pay": 6}
# The others, on loans that stay open: (state, working days before the last working day it was
# filed, the working day after filing each later step was taken). The rejected claim's loan is
# filed again (`filed`) with the missing papers.
CLAIM_PLAN = [
    ("rejected", 30, {"reject": 4}),
    ("approved", 20, {"review": 3, "approve": 6}),
    ("reviewed", 8, {"review": 3}),
    ("filed", 3, {}),
]
# Recoveries on the paid claim: (amount, working days after payment it came in, working days after
# that the fund's share went back, note). Due back within 5 working days (P1 art.40): the first
# on time, the second late.
RECOVERIES = [
    (Decimal("3000.00"), 3, 3, "借款人家属代为归还部分欠款"),
    (Decimal("1234.57"), 8, 9, "处置借款人抵押的农用车辆所得"),
]
# The third came in this many working days before the last working day and is still out, late.
LATE_OUTSTANDING = (Decimal("800.00"), 10, "担保人代偿部分欠款")
STATEMENTS = {
    "entrusted": (
        "合作社经营失败后，银行会同县扶贫办持续向合作社及其法定代表人追偿，"
        "已满6个月仍未收回贷款本息，申请风险补偿。"
    ),
    "death": "借款人身故，保险理赔后剩余部分经向继承人追偿仍未收回，申请风险补偿。",
    "default": (
        "贷款逾期后经银行、村两委多次上门催收、发送催收函并提起诉讼，借款人确无偿还能力，申请风险补偿。"
    ),
}
REJECT_REASON = "催收记录不完整，缺少诉讼或催收函等追偿材料，退回银行补充后重新申报。"
REFILE_STATEMENT = "已补充催收函、诉讼材料及村两委证明，重新申报风险补偿。"
COMMITTEE_MEMBERS = "孙国平（主任委员）、李卫红、张建华、莫光明"


class SeedRiskFund:
    """The fund; mixed into the `seed_demo` command."""

    def riskfund(self, units, users) -> RiskFund:
        """The fund and its opening deposit by finance (3 million yuan, 10× = 30 million of lending),
        on the first working day the demo's calendar knows, before any step of the loans' story; a
        second run finds it and adds nothing."""
        opened_on = min(self.days.working, default=self.today)
        fund, created = RiskFund.objects.get_or_create(
            county=units["county"],
            bank=units["bank"],
            defaults={
                "name": f"{units['county'].name}扶贫小额信贷风险补偿金",
                "account_no": "6230 5201 8800 0001",
                "opened_on": opened_on,
                "created_by": users["finance"],
            },
        )
        if not LedgerTransaction.objects.filter(fund=fund).exists():
            with clock(min(self.at(opened_on, 9, 30), self.real_now)):
                ledger.movement_record(
                    acting_user=users["finance"],
                    fund=fund,
                    kind=LedgerTransaction.Kind.DEPOSIT,
                    amount=OPENING_DEPOSIT,
                    booked_on=opened_on,
                    memo="县财政首次存入风险补偿金（专户存储、封闭运行）",
                    reference=f"CZ-{opened_on.year}-001",
                )
        return fund

    # The fund's story after the loans' ------------------------------------------------------------

    def riskfund_story(self, units, users) -> None:
        """The top-up and a quarter's interest, then the claims and recoveries, each told once
        (a second run finds them and adds nothing). Should a day they need fall in a year the
        calendar lacks, that part is left out and the output names the year."""
        fund = RiskFund.objects.filter(county=units["county"], bank=units["bank"]).first()
        if fund is None or self.last_working is None:
            return
        for part in (self.fund_movements, self.fund_claims):
            try:
                with transaction.atomic():
                    part(fund, units, users)
            except CalendarMissing as e:
                self.missing_years.add(e.year)
                self.notes.append(f"风险补偿金的部分业务未载入 (risk fund story left out)：{e.message}")

    def fund_movements(self, fund: RiskFund, units, users) -> None:
        """A top-up by the county and the interest of the last quarter whose interest day has
        passed, on working days."""
        Kind = LedgerTransaction.Kind
        if LedgerTransaction.objects.filter(fund=fund, kind__in=[Kind.INTEREST]).exists():
            return
        finance = users["finance"]
        moves = []
        top_up_on = self.days.back(self.last_working, TOP_UP_WORKING_DAYS)
        if top_up_on > fund.opened_on:
            moves.append(
                (top_up_on, Kind.DEPOSIT, TOP_UP, "县财政追加风险补偿金", f"CZ-{top_up_on.year}-017")
            )
        interest_on = self.interest_day(fund)
        if interest_on is not None:
            held = ledger.balance(fund, on_date=interest_on) + sum(
                amount for day, _k, amount, _m, _r in moves if day <= interest_on
            )
            interest = (held * INTEREST_RATE * 90 / 360).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            quarter = (interest_on.month - 1) // 3 + 1
            moves.append(
                (
                    interest_on,
                    Kind.INTEREST,
                    interest,
                    f"{interest_on.year}年第{quarter}季度专户活期存款结息",
                    f"JX-{interest_on:%Y%m%d}",
                )
            )
        for day, kind, amount, memo, reference in sorted(moves, key=lambda m: m[0]):
            with clock(min(self.at(day, 10, 0), self.real_now)):
                ledger.movement_record(
                    acting_user=finance,
                    fund=fund,
                    kind=kind,
                    amount=amount,
                    booked_on=day,
                    memo=memo,
                    reference=reference,
                )

    def interest_day(self, fund: RiskFund) -> datetime.date | None:
        """The working day on or after the 21st of the last quarter-end month whose interest day
        has come by the last working day (the bank's interest day), after the account opened;
        None when there is none the calendar knows."""
        year, month = self.last_working.year, self.last_working.month - self.last_working.month % 3
        for _ in range(8):
            if month == 0:
                year, month = year - 1, 12
            candidate = datetime.date(year, month, 21)
            month -= 3
            if candidate > self.last_working or not self.days.knows(candidate):
                continue
            booked = self.days.after(candidate, 0)
            if booked <= self.last_working:
                return booked if booked > fund.opened_on else None
        return None

    def fund_claims(self, fund: RiskFund, units, users) -> None:
        """Claims on the county's loans whose trigger has come, one in each state, and the paid
        claim's recoveries; nothing when the loans' story was left out. The paid claim compensates
        its loan, so it goes to a loan whose overdue bucket keeps another open loan."""
        if CompensationClaim.objects.filter(fund=fund).exists():
            return
        officers = self.branch_officers(units, users)
        candidates = self.claimable_loans(units)
        used: set[int] = set()
        events: list = []
        paid = self.paid_pick(candidates)
        if paid is None:
            self.notes.append("风险补偿：没有可演示赔付的贷款 (no loan for a paid claim)")
        else:
            loan, trigger, filed_on = paid
            used.add(loan.pk)
            events += self.claim_events(
                loan, trigger, STATEMENTS[trigger], filed_on, PAID_STEPS, officers[loan.branch_id], users
            )
        rejected = None
        for state, back, steps in CLAIM_PLAN:
            filed_on = self.days.back(self.last_working, back)
            if state == "filed" and rejected is not None:
                loan, trigger, statement = rejected[0], rejected[1], REFILE_STATEMENT
            else:
                pick = next((c for c in candidates if c[0].pk not in used and c[2] <= filed_on), None)
                if pick is None:
                    self.notes.append(
                        f"风险补偿：没有可在 {filed_on} 申报的贷款 (no loan for a {state} claim)"
                    )
                    continue
                loan, trigger, _when = pick
                used.add(loan.pk)
                statement = STATEMENTS[trigger]
            if state == "rejected":
                rejected = (loan, trigger)
            events += self.claim_events(
                loan, trigger, statement, filed_on, steps, officers[loan.branch_id], users
            )
        self.run_events(events)

    def paid_pick(self, candidates) -> tuple[Loan, str, datetime.date] | None:
        """The loan for the paid claim and its filing day."""
        latest = self.days.back(self.last_working, PAID_LATEST)
        earliest = self.days.back(self.last_working, PAID_BACK)
        buckets = Counter(bucket_for(c[0].days_past_due) for c in candidates)
        for loan, trigger, when in candidates:
            if buckets[bucket_for(loan.days_past_due)] < 2:
                continue
            filed_on = earliest if when <= earliest else self.days.after(when, 0)
            if filed_on <= latest:
                return loan, trigger, filed_on
        return None

    def branch_officers(self, units, users) -> dict:
        from .loans import OFFICERS

        return {units["branches"][i].pk: users[name] for i, name in enumerate(OFFICERS)}

    def claimable_loans(self, units) -> list[tuple[Loan, str, datetime.date]]:
        """Open loans of the county with the day their claim opens (earliest first), leaving out
        those whose insurance has yet to pay (insurance pays first)."""
        loans = (
            Loan.objects.filter(
                household__village__parent__parent=units["county"],
                state__in=Loan.OPEN_STATES,
                outstanding__gt=0,
            )
            .select_related("branch", "household__village__parent")
            .order_by("maturity_on", "pk")
        )
        profile = profile_for(county=units["county"], on_date=self.last_working)
        found = []
        for loan in loans:
            died_on = claim_rules.death_on(loan)
            trigger = claim_rules.triggers_for(loan, died_on=died_on)[0]
            when = claim_rules.eligible_on(loan, trigger, profile, died_on=died_on)
            if when is None or when > self.last_working:
                continue
            if claim_rules.pending_insurance(loan, died_on or self.last_working) is not None:
                continue
            found.append((loan, trigger, when))
        return sorted(found, key=lambda c: (c[2], c[0].pk))

    def claim_events(self, loan, trigger, statement, filed_on, steps, officer, users) -> list:
        """The claim's steps as events on their working days: filed by the branch's officer,
        reviewed (or rejected) by the county office, decided by the committee, paid by finance;
        then the recoveries on a paid claim."""
        holder: dict = {}
        day_of = {name: self.days.after(filed_on, n) for name, n in steps.items()}

        def file():
            holder["claim"] = claims.claim_file(
                acting_user=officer, loan=loan, trigger=trigger, statement=statement
            )

        def review():
            claims.claim_review(
                acting_user=users["county"],
                claim=holder["claim"],
                comment="材料齐全，同意提交风险补偿金管理委员会审议。",
            )

        def reject():
            claims.claim_reject(acting_user=users["county"], claim=holder["claim"], reason=REJECT_REASON)

        def approve():
            day = day_of["approve"]
            claims.claim_approve(
                acting_user=users["committee"],
                claim=holder["claim"],
                committee_members=COMMITTEE_MEMBERS,
                decision_no=f"示风补决〔{day.year}〕{loan.pk % 90 + 1}号",
                comment="经委员会审议，同意按比例补偿。",
            )

        def pay():
            claims.claim_pay(acting_user=users["finance"], claim=holder["claim"], paid_on=day_of["pay"])

        actions = {"review": review, "reject": reject, "approve": approve, "pay": pay}
        events = [(self.at(filed_on, 9, 0), 10, file)]
        for order, (name, day) in enumerate(day_of.items(), start=11):
            events.append((self.at(day, 10, 0), order, actions[name]))
        if "pay" in day_of:
            events += self.recovery_events(holder, day_of["pay"], officer, users["finance"])
        return events

    def recovery_events(self, holder, paid_on, officer, finance) -> list:
        events = []

        def record(amount, day, note):
            def run():
                holder.setdefault("recoveries", []).append(
                    recoveries.recovery_record(
                        acting_user=officer, claim=holder["claim"], amount=amount, received_on=day, note=note
                    )
                )

            return run

        def give_back(index, day):
            def run():
                recoveries.recovery_return(
                    acting_user=finance, recovery=holder["recoveries"][index], returned_on=day
                )

            return run

        for index, (amount, after_pay, back_after, note) in enumerate(RECOVERIES):
            received = self.days.after(paid_on, after_pay)
            events.append((self.at(received, 15, 0), 20 + index, record(amount, received, note)))
            returned = self.days.after(received, back_after)
            events.append((self.at(returned, 11, 0), 30 + index, give_back(index, returned)))
        amount, back, note = LATE_OUTSTANDING
        received = self.days.back(self.last_working, back)
        events.append((self.at(received, 15, 0), 29, record(amount, received, note)))
        return events
