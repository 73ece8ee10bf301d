"""`manage.py seed_demo` on the real PostgreSQL: the demo county `make run` shows newcomers."""

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import OrgUnit, Role, User
from core.management.commands import seed_demo
from core.models import AuditEvent
from households import idnumbers
from households.models import BlacklistEntry, CreditRating, Household, Member
from policies.models import PolicyProfile

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One seeding for the module (it takes seconds), rolled back at the end. Each test runs in a
    savepoint inside it, so what one test changes the next does not see."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def test_units_bank_and_profile(seeded):
    county = OrgUnit.objects.get(code=seed_demo.COUNTY_CODE)
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

    bank = OrgUnit.objects.get(code=seed_demo.BANK_CODE)
    assert bank.name == "示范县农村商业银行"
    branches = OrgUnit.objects.filter(parent=bank, kind=OrgUnit.Kind.BRANCH)
    served = [list(b.served_townships.all()) for b in branches]
    assert sorted(t.pk for ts in served for t in ts) == sorted(t.pk for t in townships)
    assert all(len(ts) == 1 for ts in served)

    (profile,) = PolicyProfile.objects.filter(county=county)
    assert profile.effective_from == datetime.date(2015, 1, 1)
    assert "P1" in profile.source_text and "P5" in profile.source_text


def test_one_account_per_role_all_with_the_demo_password(seeded):
    users = User.objects.filter(username__in=[a[0] for a in seed_demo.ACCOUNTS]).prefetch_related("roles")
    assert users.count() == len(seed_demo.ACCOUNTS)
    held = Counter(code for user in users for code in user.role_codes)
    assert set(held) == {code for code, _ in Role.CHOICES}
    for user in users:
        assert authenticate(username=user.username, password=seed_demo.PASSWORD) == user
        assert not user.is_superuser
        for code in user.role_codes:
            assert user.unit.kind in Role.UNIT_KINDS[code]
    admin = users.get(username="admin")
    assert (
        admin.is_staff and admin.has_perm("accounts.change_user") and admin.has_perm("core.view_auditevent")
    )
    assert not users.get(username="cadre").is_staff
    # The table `make run` prints for newcomers: every account, its role in Chinese, and the password.
    for username, *_ in seed_demo.ACCOUNTS:
        assert username in seeded
    assert "村干部" in seeded and "银行审批人" in seeded and seed_demo.PASSWORD in seeded


def test_households_members_and_id_numbers(seeded):
    households = Household.objects.filter(village__parent__parent__code=seed_demo.COUNTY_CODE)
    assert households.count() == sum(seed_demo.HOUSEHOLDS_PER_VILLAGE) == 600
    villages = OrgUnit.objects.filter(kind=OrgUnit.Kind.VILLAGE, parent__parent__code=seed_demo.COUNTY_CODE)
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
    assert sum(n.startswith(seed_demo.COUNTY_CODE) for n in numbers) > 0.8 * len(numbers)
    assert AuditEvent.objects.filter(action="household.create").count() == 600


def test_ratings_spread_over_the_bands_by_the_branch_officer(seeded):
    ratings = CreditRating.objects.filter(household__village__parent__parent__code=seed_demo.COUNTY_CODE)
    assert 0.8 * 600 <= ratings.values("household").distinct().count() <= 0.95 * 600
    grades = Counter(ratings.values_list("grade", flat=True))
    for grade in CreditRating.Grade.values:
        assert grades[grade] >= 30, grades
    today = timezone.localdate()
    assert ratings.filter(valid_from__lte=today, valid_to__gte=today).count() > 0.8 * ratings.count()
    for rating in ratings.select_related("rated_by", "household__village", "branch"):
        assert rating.rated_by.has_role(Role.LOAN_OFFICER) and rating.rated_by.unit == rating.branch
        assert rating.branch.served_townships.filter(pk=rating.household.village.parent_id).exists()

    entries = BlacklistEntry.objects.filter(
        household__in=Household.objects.filter(ratings__isnull=True).distinct()
    )
    assert 2 <= BlacklistEntry.objects.filter(removed_at__isnull=True).count() <= 3
    assert entries.count() == BlacklistEntry.objects.count()
    assert all("P1" in e.reason and e.added_by.username == "county" for e in BlacklistEntry.objects.all())


def test_a_second_run_changes_nothing(seeded):
    before = row_counts()
    names_before = sorted(Member.objects.values_list("name", "id_number_hash"))
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert row_counts() == before
    assert sorted(Member.objects.values_list("name", "id_number_hash")) == names_before
    assert "本次新建 0 户" in out.getvalue()


def test_the_plan_is_the_same_every_time():
    maxima = [30, 20, 20, 15, 15]
    first, second = seed_demo.Planner(maxima).plan(), seed_demo.Planner(maxima).plan()
    assert first == second
    for household in first:
        if household.rating_scores is not None:
            assert all(0 <= s <= m for s, m in zip(household.rating_scores, maxima, strict=True))
