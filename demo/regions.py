"""The demo county's units and accounts: townships, villages, the bank and its branches, one user per role."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from accounts.models import OrgUnit, Role, User
from accounts.services import user_create

SEED = 20150101
PASSWORD = "demo12345"


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


class SeedRegions:
    """Organisation units and accounts; mixed into the `seed_demo` command."""

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
