"""`manage.py seed_demo`: a demo county to try the system with.

One county (示范县) with 3 townships and 12 villages, its rural commercial bank with one branch
per township, about 600 registered poor households with 2-5 members each, bank ratings for most
of them, a few blacklisted households, one policy profile and one account per role, all sharing
the password below.

The data is fixed by `SEED`: a fresh database always gets the same people, numbers and scores.
The one exception is the rating dates, placed relative to the day of the run so that ratings are
in force whenever somebody tries the demo. The command only adds what is missing, so running it
again changes nothing and is quick. Writes go through the services, acting as the demo user whose
job the write is (the county poverty office enters households, the branch's loan officer rates,
the county office blacklists), so the demo also leaves the audit trail real work leaves.

It also enters loan applications in every state of the workflow (DOMAIN §4), most of them in the
demo cadre's village and the first branch, so every demo account finds work waiting: drafts,
village review, publicity (one with an objection behind it), the bank's queues, loans disbursed,
rejections and withdrawals. They are walked through the real services by the users whose step it
is, on working days in the recent past (see `clock`), and placed relative to the day of the run
like the ratings.

Then the loans' lives after disbursement (DOMAIN §5, §7): on the day the county went live each
branch imported its existing loans (30 of them, 2024CL0001 and so on, one 户贷企用 through a
cooperative from 2017); since then the branches have imported the banks' quarterly settlement
lists (some interest unpaid, one quarter paid late), recorded repayments (one loan repaid in full),
a borrower's death and the insurer's payout; an extension was approved, a renewal started and a
malicious defaulter blacklisted; the daily ageing leaves loans in every overdue bucket, and the
officers have recorded a few post-loan checks (one classifying worse than the floor); finance
paid the subsidy batch of the quarter before last, and the quarterly run computed last quarter's.
All of it is skipped once the county has imported loans.

Every step is taken on a working day of the calendar (statutory holidays and adjusted working
days, `WorkingDays`), on or before today, in order; an application in publicity has notices
running through today, and notices that ended were moved on by the daily task. On a Saturday, a
holiday or an adjusted working day the story is moved by a few working days where it must be
(`placement`). A year the calendar lacks is never guessed: the story stays on days the calendar
knows (in late December, notices are posted early enough to end within the year; in a year with
no calendar, the story stops at the last working day the calendar knows), whatever would need the
missing year is left undone, and the output names the year an administrator must enter.

Console output here is for developers and is not translated; the role names come from the
catalogue in Chinese."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import random
import time
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone, translation
from faker import Faker

from accounts.models import OrgUnit, Role, User
from accounts.services import user_create
from core.exceptions import ApplicationError
from households import idnumbers
from households.models import BlacklistEntry, CreditRating, Household, Member
from households.services import blacklist_add, household_create, rating_create
from loans import changes, loan_imports, servicing
from loans import services as loan_services
from loans.checks import check_record, check_schedule_ensure
from loans.interest import interest_for, schedule, settlement_dates
from loans.models import (
    BorrowerEvent,
    Classification,
    ClassificationChange,
    InsurancePolicy,
    Loan,
    LoanApplication,
    PostLoanCheck,
    Settlement,
)
from loans.servicing import BUCKETS, overdue_refresh
from loans.workflow import State
from policies.exceptions import CalendarMissing
from policies.models import CalendarDay, CalendarYear, PolicyProfile
from policies.selectors import contract_rate_for
from policies.services import profile_create
from subsidies import services as subsidy_services
from subsidies.models import BatchChunk, SubsidyBatch, SubsidyLine

SEED = 20150101
PASSWORD = "demo12345"
# Ages are counted back from a fixed day, not from today, so the ID numbers never change.
BIRTH_REFERENCE = datetime.date(2025, 1, 1)

COUNTY_CODE, COUNTY_NAME = "450399", "示范县"
# (code, name, villages); official-style codes: 9 digits for a township, 12 for a village.
TOWNSHIPS = [
    ("450399101", "青山镇", ["青山村", "龙门村", "桃源村", "新田村"]),
    ("450399102", "石桥镇", ["石桥村", "水口村", "大坪村", "长岭村"]),
    ("450399203", "白沙乡", ["白沙村", "金竹村", "六合村", "上洞村"]),
]
# Households per village, in the order above: 600 in all.
HOUSEHOLDS_PER_VILLAGE = [58, 47, 52, 45, 61, 49, 55, 43, 50, 46, 54, 40]

BANK_CODE, BANK_NAME = "SFRCB", "示范县农村商业银行"
# Branch n serves township n.
BRANCHES = [("SFRCB-01", "青山支行"), ("SFRCB-02", "石桥支行"), ("SFRCB-03", "白沙支行")]

# (username, full name, role, where: "county" | "township:N" | "village:N.M" | "branch:N", staff)
ACCOUNTS = [
    ("cadre", "王建国", Role.VILLAGE_CADRE, "village:0.0", False),
    ("township", "陈秀英", Role.TOWNSHIP_OFFICER, "township:0", False),
    ("county", "刘志强", Role.COUNTY_OFFICE, "county", False),
    ("officer", "黄晓明", Role.LOAN_OFFICER, "branch:0", False),
    ("approver", "林文斌", Role.APPROVER, "branch:0", False),
    # Every branch rates the households of its own township, so each has a loan officer.
    ("officer2", "周丽华", Role.LOAN_OFFICER, "branch:1", False),
    ("officer3", "吴海涛", Role.LOAN_OFFICER, "branch:2", False),
    ("finance", "赵敏", Role.FINANCE, "county", False),
    # A second finance officer: whoever computes a subsidy batch never approves it (four-eyes).
    ("finance2", "钱卫东", Role.FINANCE, "county", False),
    ("committee", "孙国平", Role.FUND_COMMITTEE, "county", False),
    # Staff (Django admin) but not superuser: a superuser is for system maintenance (it holds no
    # business role and, without a unit, sees every county). Here each role has its own person,
    # as it should be in a county.
    ("admin", "何静", Role.ADMIN, "county", True),
]
# The cadres of the other villages with loan applications in the demo, printed apart from the
# table above: `cadre` stays the one account a newcomer needs for the village side.
VILLAGE_CADRES = [
    ("cadre2", "蒙春生", Role.VILLAGE_CADRE, "village:0.1", False),
    ("cadre3", "韦德华", Role.VILLAGE_CADRE, "village:1.0", False),
    ("cadre4", "覃玉梅", Role.VILLAGE_CADRE, "village:2.0", False),
]
ADMIN_GROUP = "系统管理员"
# What the administrators' Django admin pages need: users, units, policy data, and the audit trail.
ADMIN_PERMISSION_APPS = ["accounts", "policies"]
ADMIN_EXTRA_PERMISSIONS = [
    ("core", "view_auditevent"),
    # Unlocking a login that django-axes locked: delete the account's access-attempt rows.
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
]

PROFILE_NAME = "示范县扶贫小额信贷政策（2015年起）"
PROFILE_SOURCE = (
    "P1《桂林市临桂区扶贫小额信贷实施细则》第二条：5万元（含）以下、3年期（含）以内、免担保免抵押、"
    "按人民银行基准利率放贷、财政全额贴息；第十条：银行自主评级授信；第十二条：村、乡（镇）、区三级公示"
    "5个工作日；第二十一条：借款人死亡贷款到期3个月仍无法收回的启动风险补偿；第二十二条：恶意逃债列入"
    "黑名单；第三十九条：风险补偿金管理委员会。"
    "P5《XX区扶贫小额信贷工作实施方案》三（一）1：18周岁（含）至65周岁（含）；三（二）2：期限1至3年，"
    "续贷不超过3年且只能一次，1年期贷款展期不超过1年，1年以上贷款展期不超过原期限一半；"
    "三（二）4：区财政全额贴息3年（含）。"
)

# Where people not born in the county were born (nearby Guilin counties, and one in Hunan).
OTHER_AREAS = ["450322", "450323", "450324", "450325", "450330", "450332", "431127"]
BUSINESSES = [
    "种植砂糖橘",
    "种植沙田柚",
    "种植罗汉果",
    "种植水稻",
    "种植茶叶",
    "养殖生猪",
    "养殖肉牛",
    "养殖山羊",
    "养殖土鸡",
    "养殖稻田鱼",
    "养蜂",
    "外出务工",
    "经营小卖部",
    "农机服务",
]
GROUP_NUMERALS = "一二三四五六七八九十"
BLACKLIST_REASONS = [
    "2019年扶贫小额信贷到期后有还款能力而拒不归还本息，经银行和村两委多次催收无果，"
    "认定为恶意逃债（P1 第二十二条）。",
    "将扶贫小额信贷资金转借他人用于非生产性支出，到期后拒绝配合催收，认定为恶意逃债（P1 第二十二条）。",
    "贷款逾期后外出并更换联系方式，逃避催收超过一年，经区扶贫办认定列入扶持黑名单（P1 第二十二条）。",
]
RATING_COMMENTS = ["", "", "", "村两委评议通过。", "经营情况良好，还款意愿强。", "家庭劳动力充足。"]


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


@dataclass
class PlannedMember:
    name: str
    id_number: str
    relation: str
    is_head: bool
    phone: str
    labour_capacity: str


@dataclass
class PlannedHousehold:
    registration_no: str
    village_code: str
    township_index: int
    poverty_status: str
    exited_on: datetime.date | None
    address: str
    assets: Decimal
    debts: Decimal
    annual_income: Decimal
    business: str
    members: list[PlannedMember] = field(default_factory=list)
    # Points per rating dimension (integrity, labour, income, project, assets), or None for a
    # household the bank has not rated.
    rating_scores: list[int] | None = None
    rating_age_days: int = 0
    rating_comment: str = ""
    blacklist_reason: str = ""


class Planner:
    """Draws the whole demo population from the seed, without looking at the database, so the
    plan is the same on every run and the command only has to create what is missing."""

    def __init__(self, maxima: list[int], seed: int = SEED):
        self.maxima = maxima
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.used_numbers: set[str] = set()

    def plan(self) -> list[PlannedHousehold]:
        households = []
        village_index = 0
        for t_index, (t_code, t_name, villages) in enumerate(TOWNSHIPS):
            for v_index, v_name in enumerate(villages):
                v_code = f"{t_code}2{v_index + 1:02d}"
                for n in range(HOUSEHOLDS_PER_VILLAGE[village_index]):
                    households.append(self.household(t_index, t_name, v_code, v_name, n + 1))
                village_index += 1
        # Three households that once refused to repay: on the blacklist, never re-rated. One per
        # township, the first in the demo cadre's own village so every demo account sees one.
        first_village = f"{TOWNSHIPS[0][0]}201"
        candidates = [
            [h for h in households if h.village_code == first_village],
            [h for h in households if h.township_index == 1],
            [h for h in households if h.township_index == 2],
        ]
        for group, reason in zip(candidates, BLACKLIST_REASONS, strict=True):
            household = self.rng.choice(group)
            household.blacklist_reason = reason
            household.rating_scores = None
        return households

    def household(self, t_index, t_name, v_code, v_name, seq) -> PlannedHousehold:
        rng = self.rng
        r = rng.random()
        if r < 0.54:
            status, exited_on = Household.PovertyStatus.NOT_EXITED, None
        elif r < 0.96:
            status = Household.PovertyStatus.EXITED
            # Exits were confirmed at the year-end assessments of 2016-2020.
            exited_on = datetime.date(rng.randint(2016, 2020), rng.choice([10, 11, 12]), rng.randint(1, 28))
        elif r < 0.985:
            status, exited_on = Household.PovertyStatus.MONITORED_EDGE, None
        else:
            status, exited_on = Household.PovertyStatus.MONITORED_SUDDEN, None
        planned = PlannedHousehold(
            registration_no=f"{v_code}{seq:04d}",
            village_code=v_code,
            township_index=t_index,
            poverty_status=status,
            exited_on=exited_on,
            address=f"{t_name}{v_name}{rng.choice(GROUP_NUMERALS)}组{rng.randint(1, 80)}号",
            assets=Decimal(rng.randrange(3000, 180000, 100)),
            debts=Decimal(0) if rng.random() < 0.6 else Decimal(rng.randrange(1000, 40000, 100)),
            annual_income=Decimal(0),
            business=rng.choice(BUSINESSES),
        )
        planned.members = self.members()
        workers = sum(1 for m in planned.members if m.labour_capacity != Member.Labour.NONE)
        planned.annual_income = Decimal(
            rng.randrange(4000, 9000, 100) + workers * rng.randrange(6000, 16000, 100)
        )
        r = rng.random()
        if r < 0.88:
            planned.rating_scores = split_score(self.score(), self.maxima, rng)
            # Most ratings are in force today; about one in twenty has lapsed and awaits re-rating.
            planned.rating_age_days = rng.randint(0, 330) if rng.random() < 0.95 else rng.randint(380, 600)
            planned.rating_comment = rng.choice(RATING_COMMENTS)
        return planned

    def score(self) -> int:
        """A total score spread over the bands: about 30% AAA, 35% AA, 22% A, 13% below A."""
        r = self.rng.random()
        if r < 0.30:
            return self.rng.randint(80, 96)
        if r < 0.65:
            return self.rng.randint(70, 79)
        if r < 0.87:
            return self.rng.randint(60, 69)
        return self.rng.randint(38, 59)

    def members(self) -> list[PlannedMember]:
        rng, fake = self.rng, self.fake
        size = rng.choices([2, 3, 4, 5], weights=[25, 30, 30, 15])[0]
        head_male = rng.random() < 0.82
        head_age = rng.randint(26, 72)
        family_name = fake.last_name()
        people = [(Member.Relation.HEAD, head_male, head_age, family_name)]
        has_spouse = rng.random() < (0.85 if head_age < 65 else 0.6)
        if has_spouse:
            age = max(20, head_age + rng.randint(-6, 6) * (1 if head_male else -1))
            people.append((Member.Relation.SPOUSE, not head_male, age, fake.last_name()))
        mother_age = next((p[2] for p in people if not p[1]), head_age)
        child_surname = family_name if head_male or not has_spouse else people[1][3]
        if len(people) < size and head_age < 58 and rng.random() < 0.3:
            # An elderly parent of the head, living with the family.
            age = min(92, head_age + rng.randint(22, 32))
            people.append((Member.Relation.PARENT, rng.random() < 0.4, age, family_name))
        while len(people) < size:
            child_age = mother_age - rng.randint(20, 34)
            if child_age >= 0:
                people.append((Member.Relation.CHILD, rng.random() < 0.52, child_age, child_surname))
            else:
                age = min(92, head_age + rng.randint(22, 32))
                people.append((Member.Relation.PARENT, rng.random() < 0.4, age, family_name))
            if head_age >= 58 and len(people) < size and rng.random() < 0.5:
                people.append(
                    (Member.Relation.GRANDCHILD, rng.random() < 0.52, rng.randint(1, 15), child_surname)
                )
        return [self.member(*p) for p in people[:size]]

    def member(self, relation, male, age, surname) -> PlannedMember:
        given = self.fake.first_name_male() if male else self.fake.first_name_female()
        if age < 16:
            labour = Member.Labour.NONE
        elif age < 60:
            labour = Member.Labour.FULL if self.rng.random() < 0.93 else Member.Labour.PARTIAL
        elif age < 70:
            labour = Member.Labour.PARTIAL
        else:
            labour = Member.Labour.NONE
        adult = age >= 18 and relation in (
            Member.Relation.HEAD,
            Member.Relation.SPOUSE,
            Member.Relation.CHILD,
        )
        return PlannedMember(
            name=surname + given,
            id_number=self.id_number(male, age, native=relation != Member.Relation.SPOUSE),
            relation=relation,
            is_head=relation == Member.Relation.HEAD,
            phone=self.fake.phone_number() if adult and self.rng.random() < 0.9 else "",
            labour_capacity=labour,
        )

    def id_number(self, male: bool, age: int, native: bool) -> str:
        """A valid GB 11643 number, never handed out twice. Spouses are often from elsewhere."""
        area = COUNTY_CODE if native or self.rng.random() < 0.6 else self.rng.choice(OTHER_AREAS)
        birth = BIRTH_REFERENCE.replace(year=BIRTH_REFERENCE.year - age - 1) + datetime.timedelta(
            days=self.rng.randint(1, 364)
        )
        while True:
            # Digits 15-17 are the sequence code; the 17th is odd for men and even for women.
            seq = self.rng.randrange(0, 500) * 2 + (1 if male else 0)
            first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            number = first17 + idnumbers.check_char(first17)
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number


def split_score(total: int, maxima: list[int], rng: random.Random) -> list[int]:
    """Spread a total over the rating dimensions, each within its maximum, roughly in proportion."""
    full = sum(maxima)
    total = min(total, full)
    parts = [m * total // full for m in maxima]
    while sum(parts) < total:
        i = rng.randrange(len(parts))
        if parts[i] < maxima[i]:
            parts[i] += 1
    # Shift a few points between dimensions so households with the same total still differ.
    for _ in range(3):
        i, j = rng.randrange(len(parts)), rng.randrange(len(parts))
        if i != j and parts[i] > 0 and parts[j] < maxima[j]:
            parts[i] -= 1
            parts[j] += 1
    return parts


class WorkingDays:
    """The working days the calendar knows, for placing the demo's steps on days people work.
    Only for placing: the services count publicity on the calendar themselves. A year the
    calendar lacks is unknown and never guessed (DOMAIN §4.3): counting into it raises
    CalendarMissing naming the year, and `latest` passes over it to the last day it knows."""

    def __init__(self, today: datetime.date):
        self.covered = set(CalendarYear.objects.values_list("year", flat=True))
        known = [year for year in self.covered if year <= today.year]
        # The story reaches back about a year and a half (the oldest application, the county's go-live,
        # the settlement lists since) from the last year the calendar knows up to today.
        self.first_year = (max(known) if known else today.year) - 3
        self.last_year = today.year + 1
        self.working = set(
            CalendarDay.objects.filter(
                date__gte=datetime.date(self.first_year, 1, 1),
                date__lte=datetime.date(self.last_year, 12, 31),
                is_working_day=True,
            ).values_list("date", flat=True)
        )

    def knows(self, day: datetime.date) -> bool:
        return day.year in self.covered

    def is_working(self, day: datetime.date) -> bool:
        if not self.knows(day):
            raise CalendarMissing(day.year)
        if not self.first_year <= day.year <= self.last_year:
            raise ValueError(f"{day} is outside the working days loaded for the demo")
        return day in self.working

    def latest(self, day: datetime.date) -> datetime.date | None:
        """The last day on or before `day` known to be a working day, passing over the days of
        years the calendar lacks; None when the calendar knows no working day before `day`."""
        while day.year >= self.first_year:
            if self.knows(day) and day in self.working:
                return day
            day -= datetime.timedelta(days=1)
        return None

    def back(self, day: datetime.date, count: int) -> datetime.date:
        """The working day `count` working days before `day` (0: `day` or the last before it)."""
        while not self.is_working(day):
            day -= datetime.timedelta(days=1)
        for _ in range(count):
            day -= datetime.timedelta(days=1)
            while not self.is_working(day):
                day -= datetime.timedelta(days=1)
        return day

    def after(self, day: datetime.date, count: int) -> datetime.date:
        """The working day `count` working days after `day` (0: `day` or the next after it)."""
        while not self.is_working(day):
            day += datetime.timedelta(days=1)
        for _ in range(count):
            day += datetime.timedelta(days=1)
            while not self.is_working(day):
                day += datetime.timedelta(days=1)
        return day


@contextlib.contextmanager
def clock(moment: datetime.datetime):
    """Run the services as if it were `moment`. For this seeding command only: the demo's
    applications went through their steps on past working days (publicity must have run its 5
    working days before the bank can accept), while the services rightly take the day from the
    clock. Patching django.utils.timezone.now moves `loans.services._today` (which reads
    timezone.localdate) together with the auto_now_add times of the history, notices, objections
    and audit records, so every page tells the same story. Always restored on the way out."""
    real_now = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = real_now


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


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


class Command(BaseCommand):
    help = "Loads the demo county (示范县): units, one account per role, ~600 households. Idempotent."

    def handle(self, *args, **options):
        started = time.monotonic()
        with translation.override("zh-hans"), transaction.atomic():
            self.begin()
            units, users, profile = self.population()
            self.applications(units, users, profile)
            self.servicing(units, users, profile)
            self.subsidies(units, users)
        self.report(users, time.monotonic() - started)

    def begin(self) -> None:
        self.counts = {
            "households": 0,
            "ratings": 0,
            "blacklist": 0,
            "skipped": 0,
            "loans": 0,
            "settlements": 0,
            "checks": 0,
            "subsidy_lines": 0,
        }
        self.new_applications: list[str] = []
        self.notes: list[str] = []
        # Years the story needed and the calendar lacks, and the applications moved earlier for them.
        self.missing_years: set[int] = set()
        self.moved_for_calendar = 0
        # Whether the loans' story already told the subsidy batches (see `subsidies`).
        self.batches_told = False
        self.dates()

    def population(self) -> tuple[dict, dict[str, User], PolicyProfile]:
        """The county, its people and the bank's ratings: everything but the story of loans,
        which `applications`, `servicing` and `subsidies` tell on the working days before today."""
        units = self.units()
        users = self.users(units)
        profile = self.profile(units["county"], users["admin"])
        self.households(units, users, profile)
        return units, users, profile

    def dates(self) -> None:
        """The day of the run and the days the story may use. Every step happens on a working day
        the calendar knows, on or before `last_working` (today, or the last working day before
        it). The loans' story is told up to `story_day`: today, or, when today falls in a year the
        calendar lacks, the end of the last year it knows, since nothing later can be placed on a
        working day."""
        self.today = timezone.localdate()
        self.real_now = timezone.now()
        self.days = WorkingDays(self.today)
        self.last_working = self.days.latest(self.today)
        self.story_day = self.today
        if not self.days.knows(self.today):
            self.missing_years.add(self.today.year)
            if self.last_working is not None:
                self.story_day = datetime.date(self.last_working.year, 12, 31)
        # The State Council publishes next year's arrangements in November (DOMAIN §4.3).
        if self.today.month >= 11 and not self.days.knows(datetime.date(self.today.year + 1, 1, 1)):
            self.missing_years.add(self.today.year + 1)

    def at(self, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))

    def run_events(self, events: list) -> None:
        """Run (moment, order, action) events in time order, each on the clock of its moment; a
        moment later today than now happens now."""
        for at, _order, action in sorted(events, key=lambda e: (e[0], e[1])):
            with clock(min(at, self.real_now)):
                action()

    # Organisation units -------------------------------------------------------------------

    def unit(self, code, name, kind, parent=None) -> OrgUnit:
        # There is no service for units (the administrators keep them in Django admin).
        unit = OrgUnit.objects.filter(code=code).first()
        if unit is None:
            unit = OrgUnit(code=code, name=name, kind=kind, parent=parent)
            unit.full_clean()
            unit.save()
        return unit

    def units(self) -> dict:
        K = OrgUnit.Kind
        county = self.unit(COUNTY_CODE, COUNTY_NAME, K.COUNTY)
        units = {"county": county, "townships": [], "villages": {}, "branches": []}
        for t_code, t_name, villages in TOWNSHIPS:
            township = self.unit(t_code, t_name, K.TOWNSHIP, county)
            units["townships"].append(township)
            for v_index, v_name in enumerate(villages):
                v_code = f"{t_code}2{v_index + 1:02d}"
                units["villages"][v_code] = self.unit(v_code, v_name, K.VILLAGE, township)
        bank = self.unit(BANK_CODE, BANK_NAME, K.BANK)
        units["bank"] = bank
        for (b_code, b_name), township in zip(BRANCHES, units["townships"], strict=True):
            branch = self.unit(b_code, b_name, K.BRANCH, bank)
            if not branch.served_townships.exists():
                branch.served_townships.set([township])
            units["branches"].append(branch)
        return units

    def place(self, units, where: str) -> OrgUnit:
        kind, _, index = where.partition(":")
        if kind == "county":
            return units["county"]
        if kind == "township":
            return units["townships"][int(index)]
        if kind == "branch":
            return units["branches"][int(index)]
        t, v = (int(i) for i in index.split("."))
        return units["villages"][f"{TOWNSHIPS[t][0]}2{v + 1:02d}"]

    # Accounts -----------------------------------------------------------------------------

    def users(self, units) -> dict[str, User]:
        accounts = ACCOUNTS + VILLAGE_CADRES
        users = {u.username: u for u in User.objects.filter(username__in=[a[0] for a in accounts])}
        # The administrator exists first and creates the others, as in real life.
        order = sorted(accounts, key=lambda a: a[2] != Role.ADMIN)
        for username, name, role, where, staff in order:
            if username in users:
                continue
            users[username] = user_create(
                acting_user=users.get("admin"),
                username=username,
                password=PASSWORD,
                name=name,
                unit=self.place(units, where),
                roles=[role],
                is_staff=staff,
            )
            if staff:
                users[username].groups.add(self.admin_group())
        return users

    def admin_group(self) -> Group:
        group, created = Group.objects.get_or_create(name=ADMIN_GROUP)
        if created:
            perms = list(Permission.objects.filter(content_type__app_label__in=ADMIN_PERMISSION_APPS))
            for app_label, codename in ADMIN_EXTRA_PERMISSIONS:
                perms += Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            group.permissions.set(perms)
        return group

    # Policy profile -----------------------------------------------------------------------

    def profile(self, county, admin) -> PolicyProfile:
        existing = PolicyProfile.objects.filter(
            county=county, effective_from=datetime.date(2015, 1, 1)
        ).first()
        if existing:
            return existing
        # Every number keeps the model's default, which follows P1 and P5 (see source_text).
        return profile_create(
            acting_user=admin,
            county=county,
            name=PROFILE_NAME,
            effective_from=datetime.date(2015, 1, 1),
            source_text=PROFILE_SOURCE,
        )

    # Households, ratings, blacklist -------------------------------------------------------

    def households(self, units, users, profile) -> None:
        maxima = [
            profile.score_integrity_max,
            profile.score_labour_max,
            profile.score_income_max,
            profile.score_project_max,
            profile.score_assets_max,
        ]
        plan = Planner(maxima).plan()
        existing = dict(
            Household.objects.filter(registration_no__in=[p.registration_no for p in plan]).values_list(
                "registration_no", "pk"
            )
        )
        rated = set(
            CreditRating.objects.filter(household_id__in=existing.values()).values_list(
                "household_id", flat=True
            )
        )
        blacklisted = set(
            BlacklistEntry.objects.filter(
                household_id__in=existing.values(), removed_at__isnull=True
            ).values_list("household_id", flat=True)
        )
        officers = {0: users["officer"], 1: users["officer2"], 2: users["officer3"]}
        today = timezone.localdate()
        for planned in plan:
            pk = existing.get(planned.registration_no)
            if pk is None:
                household = self.create_household(planned, units, users["county"])
                if household is None:
                    continue
                pk = household.pk
            if planned.rating_scores is not None and pk not in rated:
                self.rate(pk, planned, officers[planned.township_index], today)
            if planned.blacklist_reason and pk not in blacklisted:
                blacklist_add(
                    acting_user=users["county"],
                    household=Household.objects.get(pk=pk),
                    reason=planned.blacklist_reason,
                )
                self.counts["blacklist"] += 1

    def create_household(self, planned: PlannedHousehold, units, acting_user) -> Household | None:
        try:
            household = household_create(
                acting_user=acting_user,
                registration_no=planned.registration_no,
                village=units["villages"][planned.village_code],
                poverty_status=planned.poverty_status,
                exited_on=planned.exited_on,
                address=planned.address,
                assets=planned.assets,
                debts=planned.debts,
                annual_income=planned.annual_income,
                business=planned.business,
                members=[vars(m) for m in planned.members],
                reason="演示数据",
            )
        except ApplicationError as e:
            # Only possible when somebody already entered one of these ID numbers by hand.
            self.stderr.write(f"跳过 {planned.registration_no}: {e.message}")
            self.counts["skipped"] += 1
            return None
        self.counts["households"] += 1
        return household

    def rate(self, household_pk, planned, officer, today) -> None:
        integrity, labour, income, project, assets = planned.rating_scores
        rating_create(
            acting_user=officer,
            household=Household.objects.get(pk=household_pk),
            score_integrity=integrity,
            score_labour=labour,
            score_income=income,
            score_project=project,
            score_assets=assets,
            valid_from=today - datetime.timedelta(days=planned.rating_age_days),
            comment=planned.rating_comment,
        )
        self.counts["ratings"] += 1

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
            moved = loan_services.publicity_end_due(on_date=night)
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
                s.TRANSITIONS[step.name](acting_user=cadre, application=app, comment=step.text)
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
        """The nightly ageing of overdue loans and the scheduling of post-loan checks (beat times)."""
        return [
            (self.at(day, 0, 30), 0, lambda: overdue_refresh(on_date=day)),
            (self.at(day, 0, 45), 0, lambda: check_schedule_ensure(on_date=day)),
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
        header = [c.header for c in loan_imports.COLUMNS if c.key != "rate_basis"]
        for t_index, rows in sorted(files.items()):
            officer = users[OFFICERS[t_index]]
            with clock(self.at(self.go_live, 10, 15 * t_index)):
                self.counts["loans"] += loan_imports.import_loans(
                    acting_user=officer,
                    file=csv_file([header, *rows]),
                    filename=f"{officer.unit.name}存量贷款{self.go_live:%Y%m%d}.csv",
                )
        return stories

    # Interest subsidies ------------------------------------------------------------------------

    def subsidies(self, units, users) -> None:
        """The subsidy batches, when the loans' story was already there (the batches are normally
        made in its timeline, see `service_loans`). Skipped once the county has batches, so a
        second run adds nothing."""
        county = units["county"]
        if self.batches_told or self.last_working is None:
            return
        if SubsidyBatch.objects.filter(county=county).exists():
            return
        self.run_events(self.subsidy_events(county, users))
        self.counts["subsidy_lines"] = SubsidyLine.objects.filter(batch__county=county).count()

    def subsidy_events(self, county, users) -> list:
        """The quarter before last as finance left it: computed a week after the quarter, reviewed,
        approved by the second finance officer (four-eyes) and paid; last quarter as the quarterly
        run leaves it on the first working day after the quarter: computed by the system, with a
        notice on the finance dashboard. A batch whose days fall in a year the calendar lacks is
        left out: the quarterly run cannot tell its first working day either."""
        finance, finance2 = users["finance"], users["finance2"]
        last = subsidy_services.previous_quarter(*subsidy_services.quarter_of(self.today))
        before = subsidy_services.previous_quarter(*last)
        events = []
        try:
            first = self.first_working_day_after(SubsidyBatch(year=before[0], quarter=before[1]).quarter_end)
            steps = [self.days.after(first, n) for n in (4, 6, 7, 9)]
        except CalendarMissing as e:
            steps = None
            self.batch_missing(before, e)
        if steps and steps[-1] <= self.last_working:
            compute_on, review_on, approve_on, pay_on = steps
            holder = {}

            def compute():
                holder["batch"] = subsidy_services.batch_create(
                    acting_user=finance, county=county, year=before[0], quarter=before[1]
                )
                subsidy_services.batch_compute(acting_user=finance, batch=holder["batch"])
                self.finish_computing(holder["batch"])

            events += [
                (self.at(compute_on, 9, 30), 0, compute),
                (
                    self.at(review_on, 15),
                    0,
                    lambda: subsidy_services.batch_review(
                        acting_user=finance, batch=holder["batch"], comment="已与银行结息清单核对"
                    ),
                ),
                (
                    self.at(approve_on, 10),
                    0,
                    lambda: subsidy_services.batch_approve(
                        acting_user=finance2, batch=holder["batch"], comment="同意拨付"
                    ),
                ),
                (
                    self.at(pay_on, 11),
                    0,
                    lambda: subsidy_services.batch_pay(
                        acting_user=finance,
                        batch=holder["batch"],
                        paid_on=pay_on,
                        reference=f"CZ{pay_on:%Y%m%d}01",
                    ),
                ),
            ]
        try:
            run_on = self.first_working_day_after(SubsidyBatch(year=last[0], quarter=last[1]).quarter_end)
        except CalendarMissing as e:
            # The nightly run tries anyway, and tells finance and the administrators what it waits for.
            self.batch_missing(last, e)
            run_on = self.today

        def quarterly_run():
            for pk in subsidy_services.quarterly_batches_ensure(on_date=run_on):
                self.finish_computing(SubsidyBatch.objects.get(pk=pk))

        if run_on <= self.today:
            events.append((self.at(run_on, 1), 0, quarterly_run))
        return events

    def first_working_day_after(self, day: datetime.date) -> datetime.date:
        return self.days.after(day + datetime.timedelta(days=1), 0)

    def batch_missing(self, quarter: tuple[int, int], error: CalendarMissing) -> None:
        self.missing_years.add(error.year)
        label = SubsidyBatch(year=quarter[0], quarter=quarter[1]).label
        self.notes.append(f"{label}贴息批次未生成 (no subsidy batch)：{error.message}")

    @staticmethod
    def finish_computing(batch: SubsidyBatch) -> None:
        """Run the batch's chunks here: the whole seed is one transaction, and the queued tasks
        would only start after it commits (they then find every chunk done and do nothing)."""
        for chunk_id in BatchChunk.objects.filter(batch=batch, done=False).values_list("pk", flat=True):
            subsidy_services.chunk_compute(chunk_id=chunk_id)
        subsidy_services.batch_finish_if_done(batch_id=batch.pk)

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
        header = [c.header for c in servicing.COLUMNS]
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
            result = servicing.settlement_import(
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
                    lambda loan=loan: changes.loan_mark_malicious_default(
                        acting_user=users["county"], loan=loan, reason=MALICIOUS_REASON
                    ),
                )
            )
        for loan in by_story["death"]:
            holder = {}
            officer_of = self.officers[loan.branch_id]

            def policy(loan=loan, holder=holder, officer_of=officer_of):
                holder["policy"] = changes.insurance_policy_add(
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
                changes.borrower_event_record(
                    acting_user=officer_of,
                    member=loan.borrower,
                    kind=BorrowerEvent.Kind.DEATH,
                    occurred_on=self.death_day(),
                    note="借款人驾驶农用三轮车外出时发生交通事故身故，家属已提供死亡证明。",
                )

            def payout(holder=holder, officer_of=officer_of):
                changes.insurance_payout_record(
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

    # Output -------------------------------------------------------------------------------

    def report(self, users: dict[str, User], seconds: float) -> None:
        c = self.counts
        total = Household.objects.filter(village__parent__parent__code=COUNTY_CODE).count()
        skipped = f"、跳过 {c['skipped']} 户" if c["skipped"] else ""
        self.stdout.write(
            f"示范县演示数据：本次新建 {c['households']} 户、评级 {c['ratings']} 户、"
            f"列入黑名单 {c['blacklist']} 户{skipped}；县内共 {total} 户（用时 {seconds:.1f} 秒）。"
        )
        apps = LoanApplication.objects.filter(household__village__parent__parent__code=COUNTY_CODE)
        by_state = dict(apps.order_by().values_list("state").annotate(n=Count("pk")))
        states = "、".join(
            f"{label} {by_state[value]}" for value, label in State.choices if by_state.get(value)
        )
        self.stdout.write(
            f"贷款申请：本次新建 {len(self.new_applications)} 笔；县内共 {sum(by_state.values())} 笔"
            f"（{states or '无'}），已发放贷款 {Loan.objects.filter(application__in=apps).count()} 笔。"
        )
        loans = Loan.objects.filter(household__village__parent__parent__code=COUNTY_CODE)
        by_loan_state = dict(loans.order_by().values_list("state").annotate(n=Count("pk")))
        loan_states = "、".join(
            f"{label} {by_loan_state[value]}"
            for value, label in Loan.State.choices
            if by_loan_state.get(value)
        )
        open_loans = loans.filter(state__in=Loan.OPEN_STATES)
        buckets = "、".join(f"{b.label} 天 {open_loans.filter(b.q()).count()}" for b in BUCKETS)
        self.stdout.write(
            f"存量贷款：本次导入 {c['loans']} 笔；"
            f"县内贷款 {sum(by_loan_state.values())} 笔（{loan_states or '无'}），"
            f"其中导入 {loans.filter(imported=True).count()} 笔；逾期分档：{buckets}。"
        )
        self.stdout.write(
            f"贷后管理：本次新增结息记录 {c['settlements']} 条、贷后检查 {c['checks']} 次；"
            f"县内结息记录 {Settlement.objects.filter(loan__in=loans).count()} 条，"
            f"五级分类调整 {ClassificationChange.objects.filter(loan__in=loans).count()} 次。"
        )
        batches = SubsidyBatch.objects.filter(county__code=COUNTY_CODE).order_by("year", "quarter")
        listed = "、".join(f"{b.label} {b.get_state_display()} {b.total} 元" for b in batches)
        self.stdout.write(f"财政贴息：本次新增贴息明细 {c['subsidy_lines']} 条；{listed or '县内没有批次'}。")
        for year in sorted(self.missing_years):
            moved = (
                f"{self.moved_for_calendar} 笔申请的公示已提前安排，在日历已有的日期内结束；"
                if self.moved_for_calendar
                else ""
            )
            self.stdout.write(
                f"工作日历缺少 {year} 年 (the working-day calendar has no {year})：{moved}"
                f"需要 {year} 年工作日的步骤（公示截止日、季度贴息批次等）系统不会猜测，"
                f"会报 calendar_missing。请管理员在 /policies/calendar/ 录入 {year} 年的法定节假日和调休"
                f"（国务院办公厅通知，每年 11 月前后发布）(an administrator must enter {year} there)。"
            )
        for note in self.notes:
            self.stdout.write(f"  {note}")
        rows = [("用户名", "角色", "单位")]
        for username, *_ in ACCOUNTS:
            user = (
                User.objects.select_related("unit__parent__parent")
                .prefetch_related("roles")
                .get(pk=users[username].pk)
            )
            roles = "、".join(str(r) for r in user.roles.all())
            if user.is_staff:
                roles += "（可进系统管理后台）"
            rows.append((username, roles, unit_path(user.unit)))
        widths = [max(display_width(row[i]) for row in rows) for i in range(3)]
        self.stdout.write("")
        self.stdout.write("演示账号 (demo accounts):")
        for n, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))
        self.stdout.write(f"所有账号的密码 (password for every account): {PASSWORD}")
        others = "、".join(
            f"{username}（{unit_path(users[username].unit).split()[-1]}）" for username, *_ in VILLAGE_CADRES
        )
        self.stdout.write(f"其他村的村干部 (cadres of other villages, same password): {others}")


def unit_path(unit: OrgUnit | None) -> str:
    """示范县 青山镇 青山村 for a village, the bank's name before a branch's."""
    if unit is None:
        return "-"
    names = []
    while unit is not None:
        names.append(unit.name)
        unit = unit.parent
    names.reverse()
    return "".join(names) if len(names) > 1 and names[0] == BANK_NAME else " ".join(names)
