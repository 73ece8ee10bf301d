"""The demo's loan applications in every state of the workflow, walked through the real services."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.core.management.base import CommandError
from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import OrgUnit
from config import daily
from core.exceptions import ApplicationError
from core.models import JobRun
from demo.dates import clock
from demo.regions import ACCOUNTS, SEED, TOWNSHIPS, VILLAGE_CADRES
from households.models import BlacklistEntry, CreditRating, Household, Member
from loans import steps as loan_steps
from loans.models import Loan, LoanApplication
from loans.services import applications as loan_services
from loans.workflow import State
from policies.exceptions import CalendarMissing

# Loan applications -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a demo application. `gap` counts working days after the previous step (0: the
    same day); after the daily publicity task it counts from the notices' last day. `text` is the
    step's reason, comment or objection (the bank's findings come from FINDINGS)."""

    name: str
    gap: int = 0
    text: str = ""
    by: str = ""  # who acts, when not the user whose step it usually is
    objector: str = ""
    amount: int | None = None  # the approved amount, when lower than requested


SUBMIT = Step("submit")
# The daily task (loans.end_due_publicity) the night after the notices' last day.
END_PUBLICITY = Step("end_publicity")

FINDINGS = {
    "planting": "实地查看种植地块，土地已流转并完成平整，苗木采购合同已签订。申请人家庭有两名主要劳动力，"
    "种植经验5年以上，无他行贷款。项目真实可行，同意受理。",
    "breeding": "实地查看养殖场所，圈舍已建成并完成消毒，饲草料储备充足。申请人有多年养殖经验，家庭收入"
    "稳定，无不良信用记录。项目真实，同意受理。",
    "services": "实地查看经营场所，场地为自有房屋，设备采购清单与报价单一致。申请人具备经营能力，"
    "周边需求稳定。同意受理。",
    "trading": "实地查看收购点和仓储条件，已与两家批发商达成销售意向。申请人熟悉本地行情，资金用途明确。"
    "同意受理。",
    "rural_tourism": "实地查看房屋和周边环境，交通便利，改造方案可行，已取得村委会同意。申请人夫妇均能从事"
    "接待服务。同意受理。",
}


# Every step from submission to disbursement: 13 working days, publicity included.
TO_DISBURSEMENT = (
    SUBMIT,
    Step("village_approve", 2),
    END_PUBLICITY,
    Step("accept", 3),
    Step("approve", 2),
    Step("disburse", 2),
)


@dataclass(frozen=True)
class Placement:
    """Where a demo application's steps fall: the day the cadre enters it and the day of each
    step taken, in order (for END_PUBLICITY the night the daily task ran). `stopped` says why the
    remaining steps were not taken, when they could not be dated."""

    first: datetime.date
    days: tuple[datetime.date, ...]
    stopped: str = ""


class Unplaceable(Exception):
    """The planned steps cannot all be dated on working days the calendar knows, up to today.
    `year`: the year the calendar lacks, when that is the reason."""

    def __init__(self, message: str, year: int | None = None):
        super().__init__(message)
        self.year = year


# A household running the planned business is preferred only while its rating is at most this
# much older than the application needs; older ratings are kept for older applications.
RATING_SPARE = datetime.timedelta(days=60)
# How far a demo application may move from its planned place, in working days, nearest first and
# later before earlier: far enough to leave any holiday, short enough to keep the story's order.
SHIFTS = [0, *(shift for k in range(1, 31) for shift in (k, -k))]


@dataclass(frozen=True)
class PlannedApplication:
    """A demo application: where, what, and the steps it has been through, starting `start`
    working days before the day of the run. `detail` is unique: a second run finds it by that."""

    village: str  # "t.v", the indexes of TOWNSHIPS
    state: str  # where the steps leave it
    start: int
    amount: int
    term_months: int
    purpose: str
    detail: str
    business: str = ""  # a household running this business is preferred
    steps: tuple[Step, ...] = ()
    complete: bool = True  # False: a draft still without the account and the consents


# Mostly in the demo cadre's village (青山村), whose branch has the demo officer and approver; a
# few in 龙门村 (same branch, so the bank's accounts see them but `cadre` does not), 石桥村 and 白沙村.
# Each row: village, the state it ends in, working days ago it was entered, amount, term (months),
# purpose, project, the business preferred for its household, and its steps. Laid out by hand.
# fmt: off
APPLICATIONS = [
    PlannedApplication("0.0", State.DRAFT, 1, 20000, 24, "breeding",
                       "购买能繁母猪4头，扩建猪栏，预计年出栏肉猪40头。", "养殖生猪", complete=False),
    PlannedApplication("0.0", State.DRAFT, 6, 30000, 24, "planting",
                       "种植砂糖橘12亩，购买苗木、肥料和滴灌设备。", "种植砂糖橘", (
                           SUBMIT,
                           Step("send_back", 2, "项目说明不够具体：请写明已流转的土地面积、苗木来源和"
                                "预计投产时间后再提交。"),
                       )),
    PlannedApplication("0.0", State.VILLAGE_REVIEW, 2, 10000, 12, "planting",
                       "种植罗汉果5亩，购买种苗、棚架材料和有机肥。", "种植罗汉果", (SUBMIT,)),
    PlannedApplication("0.0", State.VILLAGE_REVIEW, 0, 30000, 36, "services",
                       "在村口经营小卖部，购进日用品和农资，扩建货架。", "经营小卖部", (SUBMIT,)),
    PlannedApplication("0.0", State.PUBLICITY, 3, 50000, 36, "breeding",
                       "购买西门塔尔肉牛8头，扩建牛棚，种植牧草10亩。", "养殖肉牛",
                       (SUBMIT, Step("village_approve", 3))),
    PlannedApplication("0.0", State.PUBLICITY, 5, 20000, 24, "breeding",
                       "养殖山羊30只，修建羊舍并购买饲草粉碎机。", "养殖山羊",
                       (SUBMIT, Step("village_approve", 2))),
    PlannedApplication("0.0", State.PUBLICITY, 14, 30000, 24, "breeding",
                       "林下养殖土鸡1500羽，购买鸡苗、饲料和防疫药品。", "养殖土鸡", (
                           SUBMIT,
                           Step("village_approve", 2),
                           Step("object", 3, "有村民反映申请人家中另有一辆货车跑运输，怀疑养鸡项目不实，"
                                "请村里核实。", by="township", objector="村民（匿名，电话反映）"),
                           Step("village_approve", 7, "经村两委入户核实：鸡舍已建成，已购鸡苗500羽；货车为"
                                "其兄弟所有。异议不成立，重新公示。"),
                       )),
    PlannedApplication("0.0", State.BANK_ACCEPTANCE, 12, 30000, 24, "planting",
                       "种植沙田柚15亩，购买肥料、农药并修建蓄水池。", "种植沙田柚",
                       (SUBMIT, Step("village_approve", 2), END_PUBLICITY)),
    PlannedApplication("0.0", State.BANK_ACCEPTANCE, 9, 10000, 12, "rural_tourism",
                       "利用自家房屋开办农家乐，添置餐桌、厨具和消毒柜。", "",
                       (SUBMIT, Step("village_approve", 1), END_PUBLICITY)),
    PlannedApplication("0.0", State.BANK_APPROVAL, 16, 50000, 36, "breeding",
                       "养殖稻田鱼20亩，购买鱼苗、防逃网和增氧设备。", "养殖稻田鱼",
                       (SUBMIT, Step("village_approve", 2), END_PUBLICITY, Step("accept", 3))),
    PlannedApplication("0.0", State.BANK_APPROVAL, 12, 20000, 24, "services",
                       "购买旋耕机和收割机各1台，为本村及邻村提供农机服务。", "农机服务",
                       (SUBMIT, Step("village_approve", 1), END_PUBLICITY, Step("accept", 4))),
    PlannedApplication("0.0", State.APPROVED, 20, 50000, 36, "breeding",
                       "养殖肉牛10头，购买牛犊并储备青贮饲料。", "养殖肉牛", (
                           SUBMIT,
                           Step("village_approve", 2),
                           END_PUBLICITY,
                           Step("accept", 3),
                           Step("approve", 3, "核定金额4万元：现有牛棚可容纳8头，按每头5000元核定。",
                                amount=40000),
                       )),
    PlannedApplication("0.0", State.DISBURSED, 110, 50000, 36, "planting",
                       "种植茶叶10亩，购买茶苗、有机肥并修建简易加工房。", "种植茶叶", TO_DISBURSEMENT),
    PlannedApplication("0.0", State.DISBURSED, 75, 30000, 24, "breeding",
                       "养蜂60箱，购买蜂箱、蜂种和摇蜜机。", "养蜂", TO_DISBURSEMENT),
    PlannedApplication("0.0", State.DISBURSED, 45, 20000, 24, "trading",
                       "收购本村罗汉果和沙田柚，销往桂林批发市场，购买小型冷藏设备。", "种植罗汉果",
                       TO_DISBURSEMENT),
    PlannedApplication("0.0", State.DISBURSED, 25, 10000, 12, "planting",
                       "种植水稻8亩并套养禾花鱼，购买种子和化肥。", "种植水稻", TO_DISBURSEMENT),
    PlannedApplication("0.0", State.REJECTED, 8, 30000, 36, "services",
                       "开办摩托车修理店，购买工具和配件。", "外出务工", (
                           SUBMIT,
                           Step("village_reject", 3, "经村两委核实，申请人已在外省务工两年，近期没有回乡"
                                "经营修理店的安排，申请用途不实，不予通过。"),
                       )),
    PlannedApplication("0.0", State.REJECTED, 30, 30000, 24, "breeding",
                       "养殖生猪20头，新建标准化猪舍。", "养殖生猪", (
                           SUBMIT,
                           Step("village_approve", 2),
                           END_PUBLICITY,
                           Step("accept", 3),
                           Step("reject", 3, "猪舍选址在饮用水水源保护范围内，无法办理养殖备案，本次不予"
                                "审批；调整选址后可重新申请。"),
                       )),
    PlannedApplication("0.0", State.WITHDRAWN, 10, 20000, 24, "planting",
                       "种植百香果6亩，搭建棚架并购买种苗。", "", (
                           SUBMIT,
                           Step("village_approve", 2),
                           Step("withdraw", 2, "借款人已外出务工，本人书面申请撤回。"),
                       )),
    PlannedApplication("0.0", State.WITHDRAWN, 22, 30000, 36, "breeding",
                       "养殖山羊40只，购买种羊和饲草。", "养殖山羊", (
                           SUBMIT,
                           Step("village_approve", 2),
                           END_PUBLICITY,
                           Step("withdraw", 3, "借款人的子女已承担项目资金，不再需要贷款，本人申请撤回。"),
                       )),
    PlannedApplication("0.1", State.PUBLICITY, 6, 30000, 24, "planting",
                       "种植砂糖橘8亩，更换老化果树并购买肥料。", "种植砂糖橘",
                       (SUBMIT, Step("village_approve", 2))),
    PlannedApplication("0.1", State.BANK_APPROVAL, 14, 20000, 24, "breeding",
                       "养殖土鸡800羽，扩建鸡舍。", "养殖土鸡",
                       (SUBMIT, Step("village_approve", 2), END_PUBLICITY, Step("accept", 2))),
    PlannedApplication("0.1", State.APPROVED, 18, 30000, 36, "services",
                       "开办竹编加工作坊，购买破竹机和原料。", "",
                       (SUBMIT, Step("village_approve", 2), END_PUBLICITY, Step("accept", 3),
                        Step("approve", 2))),
    PlannedApplication("0.1", State.DISBURSED, 60, 50000, 36, "rural_tourism",
                       "改造自家老屋开办民宿，添置床品和热水器。", "", TO_DISBURSEMENT),
    PlannedApplication("1.0", State.VILLAGE_REVIEW, 1, 10000, 12, "planting",
                       "种植水稻10亩，购买种子和化肥。", "种植水稻", (SUBMIT,)),
    PlannedApplication("1.0", State.BANK_ACCEPTANCE, 10, 30000, 24, "breeding",
                       "养殖肉牛5头，购买牛犊。", "养殖肉牛",
                       (SUBMIT, Step("village_approve", 2), END_PUBLICITY)),
    PlannedApplication("1.0", State.REJECTED, 20, 20000, 24, "trading",
                       "收购沙田柚销往外地，租用仓库。", "种植沙田柚", (
                           SUBMIT,
                           Step("village_approve", 2),
                           END_PUBLICITY,
                           Step("decline", 3, "实地调查发现申请人尚未落实仓库和销售渠道，项目不具备实施条件，"
                                "不予受理；条件成熟后可重新申请。"),
                       )),
    PlannedApplication("2.0", State.DRAFT, 0, 20000, 24, "planting",
                       "种植茶叶6亩，购买茶苗和有机肥。", "种植茶叶"),
    PlannedApplication("2.0", State.PUBLICITY, 3, 30000, 24, "breeding",
                       "养殖稻田鱼12亩，购买鱼苗和增氧机。", "养殖稻田鱼",
                       (SUBMIT, Step("village_approve", 2))),
]
# fmt: on


# When in the day each step is taken (hour, minute), before a few minutes' spread per application.
STEP_TIMES = {
    "create": (9, 0),
    "submit": (9, 25),
    "send_back": (15, 30),
    "village_approve": (10, 30),
    "village_reject": (16, 0),
    "object": (11, 0),
    "withdraw": (11, 30),
    "accept": (14, 30),
    "decline": (15, 0),
    "approve": (16, 0),
    "reject": (16, 30),
    "disburse": (10, 0),
}


class SeedApplications:
    """Loan applications; mixed into the `seed_demo` command."""

    # Loan applications --------------------------------------------------------------------

    def applications(self, units, users, profile) -> None:
        """Every planned application not yet in the database, the first entered first (so contract
        numbers follow the disbursement dates), each walked through all its steps in turn."""
        existing = set(
            LoanApplication.objects.filter(
                household__village__parent__parent=units["county"],
                purpose_detail__in=[p.detail for p in APPLICATIONS],
            ).values_list("purpose_detail", flat=True)
        )
        missing = [p for p in APPLICATIONS if p.detail not in existing]
        if not missing or self.last_working is None:
            return
        self.publicity_days = profile.publicity_days
        self.loan_numbers: dict[int, int] = {}
        candidates = self.candidate_households(units, profile)
        officers = {0: users["officer"], 1: users["officer2"], 2: users["officer3"]}
        cadres = {
            where.partition(":")[2]: users[name]
            for name, *_r, where, _s in ACCOUNTS + VILLAGE_CADRES
            if where.startswith("village:")
        }
        placed = sorted(
            ((self.placement(planned), n, planned) for n, planned in enumerate(missing)),
            key=lambda item: (item[0].first, item[1]),
        )
        for placement, n, planned in placed:
            t_index = int(planned.village.split(".")[0])
            # Who takes each kind of step: the village's cadre, the branch's officer, the approver.
            actors = {
                **users,
                "cadre": cadres[planned.village],
                "officer": officers[t_index],
                "approver": users["approver"],
            }
            self.enter_application(n, planned, placement, candidates, actors, profile)

    def candidate_households(self, units, profile) -> dict[str, list[Household]]:
        """Per village ("t.v"), the households that may borrow for the demo: not blacklisted, not
        under monitoring (unless the profile allows it), without applications or loans, in a
        fixed shuffled order so the demo's borrowers are spread over the village."""
        busy = set(LoanApplication.objects.values_list("household_id", flat=True)) | set(
            Loan.objects.values_list("household_id", flat=True)
        )
        blacklisted = set(
            BlacklistEntry.objects.filter(removed_at__isnull=True).values_list("household_id", flat=True)
        )
        households = (
            Household.objects.filter(village__parent__parent=units["county"])
            .select_related("village")
            .prefetch_related(
                Prefetch("members", queryset=Member.objects.order_by("-is_head", "id")),
                Prefetch("ratings", queryset=CreditRating.objects.order_by("-valid_from", "-id")),
            )
            .order_by("registration_no")
        )
        codes = {village.code: key for key, village in self.village_keys(units).items()}
        per_village: dict[str, list[Household]] = {}
        for household in households:
            if household.pk in busy or household.pk in blacklisted:
                continue
            if household.is_monitored and not profile.allow_monitored_households:
                continue
            key = codes.get(household.village.code)
            if key is not None:
                per_village.setdefault(key, []).append(household)
        rng = random.Random(SEED + 1)
        for households_of_village in per_village.values():
            rng.shuffle(households_of_village)
        return per_village

    @staticmethod
    def village_keys(units) -> dict[str, OrgUnit]:
        keys = {}
        for t_index, (t_code, _name, villages) in enumerate(TOWNSHIPS):
            for v_index in range(len(villages)):
                keys[f"{t_index}.{v_index}"] = units["villages"][f"{t_code}2{v_index + 1:02d}"]
        return keys

    def pick(self, planned, candidates, profile, first, last) -> tuple[Household, Member] | None:
        """The first candidate of the village (those running the planned business first, then
        those rated most recently) whose rating covers the amount from `first` to `last` and who
        has a member of age to borrow who can work: the head if possible, else the spouse. The
        applications are picked for oldest first, and older ratings are kept for the ones that
        need them: when today is weeks past the last day the calendar knows, every application
        was entered before then and needs a rating older than that."""

        def rating_on(household, day):
            return next((r for r in household.ratings.all() if r.valid_from <= day <= r.valid_to), None)

        def line_on(household, day):
            rating = rating_on(household, day)
            return rating.credit_limit if rating is not None and rating.is_valid_on(day) else Decimal(0)

        def preference(household):
            # The planned business only where the rating is no older than it needs to be.
            rating = rating_on(household, first)
            rated = rating.valid_from if rating is not None else datetime.date.min
            fits = planned.business in ("", household.business) and rated >= first - RATING_SPARE
            return (not fits, -rated.toordinal())

        def can_borrow(member):
            return member.labour_capacity != Member.Labour.NONE and all(
                profile.age_min <= member.age_on(day) <= profile.age_max for day in (first, last)
            )

        pool = candidates.get(planned.village, [])
        for household in sorted(pool, key=preference):
            if any(line_on(household, day) < planned.amount for day in (first, last)):
                continue
            members = [
                m
                for m in household.members.all()
                if m.relation in (Member.Relation.HEAD, Member.Relation.SPOUSE)
            ]
            borrower = next((m for m in members if can_borrow(m)), None)
            if borrower is None:
                continue
            pool.remove(household)
            return household, borrower
        return None

    def placement(self, planned: PlannedApplication) -> Placement:
        """Where the planned steps fall: the cadre enters the application `start` working days
        before the last working day, moved by as few working days as it takes (later first) so
        that every step is on a working day the calendar knows and none after today, notices
        still running today belong to applications in publicity, and ended ones were moved on by
        the daily task. On a Saturday, say, notices that would have ended on Friday are posted a
        day later; in the last days of a year whose successor has no calendar yet, notices are
        posted early enough to end within the year. When no place works (notices would have to
        run into a year the calendar lacks) the application takes the steps it can and stops."""
        steps = planned.steps
        why: Unplaceable | None = None
        for length in range(len(steps), -1, -1):
            for shift in SHIFTS:
                start = planned.start - shift
                if start < 0:
                    continue
                try:
                    first, days = self.walk(steps[:length], start)
                except Unplaceable as e:
                    # Why it cannot be placed as planned; a year the calendar lacks says it best.
                    if length == len(steps) and (why is None or why.year is None and e.year is not None):
                        why = e
                    continue
                if length == len(steps):
                    if why is not None and why.year is not None:
                        self.moved_for_calendar += 1
                    return Placement(first, days)
                return Placement(first, days, str(why))
        raise CommandError(f"Demo application {planned.detail} cannot be entered on any working day")

    def walk(self, steps: tuple[Step, ...], start: int) -> tuple[datetime.date, tuple[datetime.date, ...]]:
        """The entry day and the day of each step when the application is entered `start`
        working days before the last working day; Unplaceable when a step cannot be dated."""
        try:
            first = day = self.days.back(self.last_working, start)
            notices_end = None
            days = []
            for step in steps:
                if step is END_PUBLICITY:
                    night = notices_end + datetime.timedelta(days=1)
                    if night > self.today:
                        raise Unplaceable("公示期尚未结束")
                    days.append(night)
                    day, notices_end = notices_end, None
                    continue
                day = self.days.after(day, step.gap)
                if day > self.today:
                    raise Unplaceable(f"{step.name} 将晚于今天")
                if step.name == "object" and (notices_end is None or day > notices_end):
                    raise Unplaceable("异议时公示已结束")
                if step.name == "village_approve":
                    notices_end = self.days.after(day, self.publicity_days - 1)
                elif step.name in ("object", "withdraw"):
                    notices_end = None
                days.append(day)
        except CalendarMissing as e:
            self.missing_years.add(e.year)
            raise Unplaceable(f"需要 {e.year} 年的工作日 (needs working days of {e.year})", e.year) from e
        if notices_end is not None and notices_end < self.today:
            # The daily task would have ended them; only applications in publicity have notices.
            raise Unplaceable("公示期在今天之前已结束")
        return first, tuple(days)

    def last_day(self, planned) -> datetime.date:
        """The last day the household must be able to borrow: a month ahead while the application
        is open (the demo accounts take its next steps), else today, so that no finished demo
        application shows a rating that has since lapsed."""
        if planned.state in (State.DISBURSED, State.REJECTED, State.WITHDRAWN):
            return self.today
        return self.today + datetime.timedelta(days=30)

    def moment(self, day: datetime.date, step: str, n: int) -> datetime.datetime:
        hour, minute = STEP_TIMES[step]
        at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute + (n * 7) % 25)))
        # A step of today is never later than now.
        return min(at, self.real_now)

    def enter_application(
        self, n: int, planned: PlannedApplication, placement: Placement, candidates, actors, profile
    ) -> None:
        picked = self.pick(planned, candidates, profile, placement.first, self.last_day(planned))
        if picked is None:
            # Only when today is long after the last day the calendar knows: few ratings then
            # reach back to the application and still hold today.
            self.notes.append(
                f"{planned.detail[:10]}……：村里没有评级从 {placement.first} 起有效至今的农户，未录入"
                f"(no household's rating covers {placement.first} to today; left out)"
            )
            return
        household, borrower = picked
        fields = {
            "amount": Decimal(planned.amount),
            "term_months": planned.term_months,
            "purpose_category": planned.purpose,
            "purpose_detail": planned.detail,
            "use_mode": "self",
        }
        if planned.complete:
            rng = random.Random(f"{SEED}-{planned.detail}")
            # A debit card of the rural commercial bank: 19 digits.
            account = "62305201" + "".join(str(rng.randrange(10)) for _ in range(11))
            fields |= {
                "bank_account_no": account,
                "capacity_attested": True,
                "consent_publicity": True,
                "consent_credit_query": True,
            }
        cadre = actors["cadre"]
        with clock(self.moment(placement.first, "create", n)):
            app = loan_services.application_create(
                acting_user=cadre, household=household, borrower=borrower, **fields
            )
        # zip stops at the last step the placement could date.
        for step, day in zip(planned.steps, placement.days, strict=False):
            if step is END_PUBLICITY:
                self.end_publicity(app, day)
                continue
            try:
                with clock(self.moment(day, step.name, n)):
                    self.take(app, step, actors)
            except ApplicationError as e:
                raise CommandError(
                    f"Demo application {planned.detail}, step {step.name} on {day}: {e.message}"
                ) from e
        app.refresh_from_db()
        if placement.stopped:
            self.notes.append(
                f"{household.registration_no}（{planned.detail[:10]}……）停在“{app.get_state_display()}”"
                f"(stopped at {app.state})：{placement.stopped}"
            )
        self.new_applications.append(app.state)

    def end_publicity(self, app: LoanApplication, night: datetime.date) -> None:
        """The daily task, just after midnight following the notices' last day."""
        with clock(min(self.at(night, 0, 10), self.real_now)):
            # As the scheduler runs it, so the jobs page records the run (issue 14).
            moved = daily.job_run_here("loans.end_due_publicity", trigger=JobRun.Trigger.DEMO, on_date=night)
        if app.pk not in moved:
            raise CommandError(f"Demo application {app.purpose_detail}: publicity did not end on {night}")

    def take(self, app: LoanApplication, step: Step, actors) -> None:
        s = loan_services
        cadre, officer, approver = actors["cadre"], actors["officer"], actors["approver"]
        match step.name:
            case "submit":
                s.application_submit(acting_user=cadre, application=app)
            case "village_approve":
                s.application_village_approve(acting_user=cadre, application=app, comment=step.text)
            case "send_back" | "village_reject" | "withdraw":
                loan_steps.STEPS[step.name].service(acting_user=cadre, application=app, comment=step.text)
            case "object":
                s.objection_lodge(
                    acting_user=actors[step.by], application=app, text=step.text, objector=step.objector
                )
            case "accept":
                s.application_accept(
                    acting_user=officer, application=app, findings=FINDINGS[app.purpose_category]
                )
            case "decline":
                s.application_decline(acting_user=officer, application=app, comment=step.text)
            case "approve":
                amount = Decimal(step.amount) if step.amount else None
                s.application_approve(acting_user=approver, application=app, amount=amount, comment=step.text)
            case "reject":
                s.application_reject(acting_user=approver, application=app, comment=step.text)
            case "disburse":
                contract_no, receipt_no = self.next_loan_numbers(timezone.localdate().year)
                s.application_disburse(
                    acting_user=officer,
                    application=app,
                    contract_no=contract_no,
                    receipt_no=receipt_no,
                    account_no=app.bank_account_no,
                )
            case _:
                raise CommandError(f"Unknown demo step {step.name}")

    def next_loan_numbers(self, year: int) -> tuple[str, str]:
        """The year's next free contract (借款合同) and receipt (借据) numbers: 2026HT0001, 2026JJ0001."""
        n = self.loan_numbers.get(year)
        if n is None:
            n = Loan.objects.filter(contract_no__startswith=f"{year}HT").count()
        while True:
            n += 1
            contract_no, receipt_no = f"{year}HT{n:04d}", f"{year}JJ{n:04d}"
            if (
                not Loan.objects.filter(contract_no=contract_no).exists()
                and not Loan.objects.filter(receipt_no=receipt_no).exists()
            ):
                self.loan_numbers[year] = n
                return contract_no, receipt_no
