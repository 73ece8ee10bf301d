"""The demo population: about 600 households drawn from the seed, their ratings and the blacklist."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone
from faker import Faker

from core.exceptions import ApplicationError
from demo.regions import COUNTY_CODE, HOUSEHOLDS_PER_VILLAGE, SEED, TOWNSHIPS
from households import idnumbers
from households.models import BlacklistEntry, CreditRating, Household, Member
from households.services.blacklist import blacklist_add
from households.services.households import household_create
from households.services.ratings import rating_create

# Ages are counted back from a fixed day, not from today, so the ID numbers never change.
BIRTH_REFERENCE = datetime.date(2025, 1, 1)


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


class SeedHouseholds:
    """Households, ratings, blacklist; mixed into the `seed_demo` command."""

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
