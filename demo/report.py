"""What `seed_demo` prints: the counts, the calendar's missing years and the demo accounts."""

from __future__ import annotations

import unicodedata

from django.db.models import Count

from accounts.models import User
from demo.regions import ACCOUNTS, COUNTY_CODE, PASSWORD, VILLAGE_CADRES, unit_path
from households.models import Household
from loans.classification import BUCKETS
from loans.models import (
    ClassificationChange,
    Loan,
    LoanApplication,
    Settlement,
)
from loans.workflow import State
from subsidies.models import SubsidyBatch


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


class SeedReport:
    """The output; mixed into the `seed_demo` command."""

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
