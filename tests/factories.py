"""Factories for test data (factory_boy, Faker zh_CN). Faker's zh_CN `ssn` gives valid
GB 11643 numbers, so members are real-looking people."""

import datetime
import itertools
from decimal import Decimal

import factory
from faker import Faker

from accounts.models import OrgUnit, Role, User
from households import idnumbers
from households.models import CreditRating, Household, Member
from policies.models import PolicyProfile

fake = Faker("zh_CN")
_codes = itertools.count(1)


def id_number(birth: datetime.date, seq: int = 1, area: str = "450322") -> str:
    """A valid ID number for a birth date; `seq` makes it unique (odd last digit = male)."""
    first17 = f"{area}{birth:%Y%m%d}{seq % 1000:03d}"
    return first17 + idnumbers.check_char(first17)


_id_seq = itertools.count(1)


def unique_id_number(age: int = 40, on: datetime.date | None = None) -> str:
    on = on or datetime.date.today()
    n = next(_id_seq)
    birth = datetime.date(on.year - age, 1 + n % 12, 1 + n % 28)
    if birth > on.replace(year=on.year - age):
        birth = birth.replace(year=birth.year - 1)
    area = f"{450300 + (n // 1000) % 99:06d}"
    return id_number(birth, n, area)


class OrgUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgUnit

    kind = OrgUnit.Kind.COUNTY
    code = factory.LazyFunction(lambda: f"T{next(_codes):08d}")
    name = factory.LazyFunction(lambda: fake.city_name())


class CountyFactory(OrgUnitFactory):
    kind = OrgUnit.Kind.COUNTY
    name = factory.Sequence(lambda n: f"测试县{n}")


class TownshipFactory(OrgUnitFactory):
    kind = OrgUnit.Kind.TOWNSHIP
    parent = factory.SubFactory(CountyFactory)
    name = factory.Sequence(lambda n: f"测试镇{n}")


class VillageFactory(OrgUnitFactory):
    kind = OrgUnit.Kind.VILLAGE
    parent = factory.SubFactory(TownshipFactory)
    name = factory.Sequence(lambda n: f"测试村{n}")


class BankFactory(OrgUnitFactory):
    kind = OrgUnit.Kind.BANK
    name = factory.Sequence(lambda n: f"测试农商银行{n}")


class BranchFactory(OrgUnitFactory):
    kind = OrgUnit.Kind.BRANCH
    parent = factory.SubFactory(BankFactory)
    name = factory.Sequence(lambda n: f"测试支行{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.LazyFunction(lambda: fake.name())
    password = factory.django.Password("pass12345")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.roles.set(Role.objects.filter(code__in=extracted))


class PolicyProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyProfile

    county = factory.SubFactory(CountyFactory)
    name = "默认政策"
    effective_from = datetime.date(2015, 1, 1)
    source_text = "P1 临桂区扶贫小额信贷实施细则"


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household
        skip_postgeneration_save = True

    registration_no = factory.Sequence(lambda n: f"45032210{n:08d}")
    village = factory.SubFactory(VillageFactory)
    poverty_status = Household.PovertyStatus.NOT_EXITED
    address = factory.LazyFunction(lambda: fake.street_address())
    annual_income = Decimal("12000.00")

    @factory.post_generation
    def head(self, create, extracted, **kwargs):
        """Every household gets a head unless `head=False`."""
        if create and extracted is not False:
            MemberFactory(household=self, is_head=True, relation=Member.Relation.HEAD, **kwargs)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        exclude = ["number", "age"]

    household = factory.SubFactory(HouseholdFactory, head=False)
    name = factory.LazyFunction(lambda: fake.name())
    relation = Member.Relation.SPOUSE
    is_head = False
    phone = factory.LazyFunction(lambda: fake.phone_number())
    age = 40
    number = factory.LazyAttribute(lambda o: unique_id_number(o.age))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        number = kwargs.pop("id_number", None)
        member = model_class(*args, **kwargs)
        member.set_id_number(idnumbers.parse(number or unique_id_number()))
        member.save()
        return member

    @factory.lazy_attribute
    def id_number(self):
        return self.number


class CreditRatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditRating

    household = factory.SubFactory(HouseholdFactory)
    score_integrity = 25
    score_labour = 18
    score_income = 15
    score_project = 12
    score_assets = 12
    score = 82
    grade = CreditRating.Grade.AAA
    credit_limit = Decimal("50000.00")
    valid_from = factory.LazyFunction(datetime.date.today)
    valid_to = factory.LazyAttribute(lambda o: o.valid_from + datetime.timedelta(days=364))
    profile = factory.SubFactory(PolicyProfileFactory)
    branch = factory.SubFactory(BranchFactory)
    rated_by = factory.SubFactory(UserFactory)


class LoanFactory(factory.django.DjangoModelFactory):
    """A loan straight in the book (as an imported one): 30,000 at 4.35% for 36 months from
    2025-03-20, the household head borrowing. Pass `household` and `branch` from the test's world."""

    class Meta:
        model = "loans.Loan"

    household = factory.SubFactory(HouseholdFactory)
    borrower = factory.LazyAttribute(lambda o: o.household.members.get(is_head=True))
    contract_no = factory.Sequence(lambda n: f"LF-{n:06d}")
    receipt_no = factory.Sequence(lambda n: f"LFR-{n:06d}")
    amount = Decimal("30000.00")
    outstanding = factory.LazyAttribute(lambda o: o.amount)
    rate = Decimal("4.3500")
    rate_basis = "benchmark"
    term_months = 36
    disbursed_on = datetime.date(2025, 3, 20)
    maturity_on = datetime.date(2028, 3, 20)
    use_mode = "self"
    imported = True


def _interest(o) -> Decimal:
    from loans.interest import interest_for, period_days

    return interest_for(o.principal, o.rate, period_days(o.period_start, o.period_end))


class SettlementFactory(factory.django.DjangoModelFactory):
    """An interest settlement entered by hand: the loan's first quarter (2025-03-20 to 06-20 for a
    LoanFactory loan), interest principal × rate × days ÷ 360, paid on the period's end. Pass
    `paid_on=None` for one not paid yet (then nothing is paid unless `interest_paid` is given)."""

    class Meta:
        model = "loans.Settlement"

    loan = factory.SubFactory(LoanFactory)
    period_start = factory.LazyAttribute(lambda o: o.loan.disbursed_on)
    period_end = factory.LazyAttribute(lambda o: o.period_start + datetime.timedelta(days=92))
    principal = factory.LazyAttribute(lambda o: o.loan.amount)
    rate = factory.LazyAttribute(lambda o: o.loan.rate)
    interest_due = factory.LazyAttribute(_interest)
    paid_on = factory.LazyAttribute(lambda o: o.period_end)
    interest_paid = factory.LazyAttribute(lambda o: o.interest_due if o.paid_on else Decimal("0.00"))
    penalty_paid = Decimal("0.00")
    source = "manual"
    recorded_by = factory.SubFactory(UserFactory)


class RepaymentFactory(factory.django.DjangoModelFactory):
    """A principal repayment row (data only: the loan's outstanding is not touched; use
    `loans.servicing.repayment_record` to test repaying). 1,000 paid on 2025-06-20."""

    class Meta:
        model = "loans.Repayment"

    loan = factory.SubFactory(LoanFactory)
    paid_on = datetime.date(2025, 6, 20)
    principal = Decimal("1000.00")
    outstanding_after = factory.LazyAttribute(lambda o: o.loan.outstanding - o.principal)
    recorded_by = factory.SubFactory(UserFactory)


# A complete application form's values; tests override what they are about.
APPLICATION_FIELDS = dict(
    amount=Decimal("30000.00"),
    term_months=24,
    purpose_category="breeding",
    purpose_detail="养殖肉牛 5 头",
    use_mode="self",
    capacity_attested=True,
    bank_account_no="6230 0000 1111 2222",
    consent_publicity=True,
    consent_credit_query=True,
)


def application_create(*, acting_user, household, **overrides):
    """A draft application for `household` (its head borrows unless `borrower` is given), made
    through the real service as the village cadre would."""
    from loans.services import applications

    fields = {**APPLICATION_FIELDS, **overrides}
    borrower = fields.pop("borrower", None) or household.members.get(is_head=True)
    return applications.application_create(
        acting_user=acting_user, household=household, borrower=borrower, **fields
    )


class RiskFundFactory(factory.django.DjangoModelFactory):
    """A county's fund at a bank; `deposit` (yuan) books an opening deposit straight in the ledger
    (the two legs, no audit row), so tests that are not about the fund do not see it."""

    class Meta:
        model = "riskfund.RiskFund"
        skip_postgeneration_save = True

    county = factory.SubFactory(CountyFactory)
    bank = factory.SubFactory(BankFactory)
    name = factory.LazyAttribute(lambda o: f"{o.county.name}扶贫小额信贷风险补偿金")
    account_no = factory.Sequence(lambda n: f"6230 0000 {n:08d}")
    opened_on = datetime.date(2016, 1, 4)

    @factory.post_generation
    def deposit(obj, create, extracted, **kwargs):
        if not create or not extracted:
            return
        from riskfund.models import Account, LedgerEntry, LedgerTransaction

        user = kwargs.get("by") or UserFactory(unit=obj.county, roles=[])
        txn = LedgerTransaction.objects.create(
            fund=obj,
            kind=LedgerTransaction.Kind.DEPOSIT,
            booked_on=kwargs.get("on", obj.opened_on),
            memo="初始存入",
            created_by=user,
        )
        amount = Decimal(extracted)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(transaction=txn, fund=obj, account=Account.FUND, amount=amount),
                LedgerEntry(transaction=txn, fund=obj, account=Account.COUNTY, amount=-amount),
            ]
        )


def _claim_split(o) -> tuple[Decimal, Decimal]:
    from riskfund.services.recoveries import split

    return split(o.loss, o.fund_ratio, o.remainder_to)


class CompensationClaimFactory(factory.django.DjangoModelFactory):
    """A loss claim straight in the table, paid by default (the state is given at creation, as the
    protected FSM field allows): 30,000.00 principal and 1,234.57 interest, nothing from insurance,
    split 0.8 with the remainder fen to the bank (24,987.65 / 6,246.92). Pass `fund`, `loan`,
    `profile` and the users from the test's world."""

    class Meta:
        model = "riskfund.CompensationClaim"

    fund = factory.SubFactory(RiskFundFactory)
    loan = factory.SubFactory(LoanFactory)
    state = "paid"
    trigger = "default"
    eligible_on = datetime.date(2026, 1, 5)
    profile = factory.SubFactory(PolicyProfileFactory)
    principal = Decimal("30000.00")
    interest = Decimal("1234.57")
    insurance_paid = Decimal("0.00")
    loss = factory.LazyAttribute(lambda o: o.principal + o.interest - o.insurance_paid)
    fund_ratio = Decimal("0.8000")
    remainder_to = "bank"
    fund_share = factory.LazyAttribute(lambda o: _claim_split(o)[0])
    bank_share = factory.LazyAttribute(lambda o: _claim_split(o)[1])
    statement = "催收记录齐全，借款人无力偿还"
    filed_by = factory.SubFactory(UserFactory)
    paid_on = factory.LazyAttribute(lambda o: datetime.date(2026, 3, 2) if o.state == "paid" else None)
