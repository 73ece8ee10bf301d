"""The fund pages: the list with balance, multiple, outstanding and headroom (a warning at 90 %
use), one fund with its ledger where finance enters movements and reverses them, recording a
fund, and who sees what (anything outside the user's county or bank answers 404)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from core.models import AuditEvent
from riskfund.models import LedgerTransaction, RiskFund
from riskfund.services import ledger
from tests.factories import BankFactory, BranchFactory, HouseholdFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db
Kind = LedgerTransaction.Kind


def url(name, *args):
    return reverse(f"riskfund:{name}", args=args)


def _deposits(world, n):
    for i in range(n):
        ledger.movement_record(
            acting_user=world.finance, fund=world.fund, kind=Kind.DEPOSIT, amount="10.00", memo=f"第{i}笔"
        )


@pytest.mark.parametrize("who", ["finance", "county_office", "committee", "admin", "officer", "approver"])
def test_the_fund_is_listed_for_the_county_and_the_bank(world, client_as, who):
    client = client_as(getattr(world, who))
    r = client.get(url("fund_list"))
    assert r.status_code == 200
    (row,) = r.context["rows"]
    assert row.fund == world.fund
    # 10,000,000.00 × 10 = 100,000,000.00 of lending, nothing outstanding.
    assert (row.balance, row.multiple, row.outstanding, row.headroom) == (
        Decimal("10000000.00"),
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("100000000.00"),
    )
    html = r.content.decode()
    assert "10,000,000.00" in html and "100,000,000.00" in html
    assert "接近或达到上限" not in html
    assert client.get(url("fund_detail", world.fund.pk)).status_code == 200


@pytest.mark.parametrize("who", ["cadre", "township_officer"])
def test_others_see_no_fund(world, client_as, who):
    client = client_as(getattr(world, who))
    assert client.get(url("fund_list")).context["rows"] == []
    assert client.get(url("fund_detail", world.fund.pk)).status_code == 404


def test_another_countys_finance_and_another_banks_officer_get_404(world, client_as):
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    other_branch = BranchFactory(parent=BankFactory())
    other_officer = UserFactory(unit=other_branch, roles=[Role.LOAN_OFFICER])
    for user in (stranger, other_officer):
        client = client_as(user)
        assert client.get(url("fund_list")).context["rows"] == []
        assert client.get(url("fund_detail", world.fund.pk)).status_code == 404
        assert client.get(url("statement", world.fund.pk)).status_code == 404
    r = client_as(stranger).post(
        url("movement_create", world.fund.pk),
        {"kind": "deposit", "amount": "1.00", "booked_on": "2026-06-17", "memo": "x"},
    )
    assert r.status_code == 404
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_the_warning_at_90_percent_use(world, client_as):
    # Leave 3,300.00 in the fund: a cap of 33,000.00; a 30,000.00 loan uses 90.9 % of it.
    ledger.movement_record(
        acting_user=world.finance, fund=world.fund, kind=Kind.WITHDRAWAL, amount="9996700.00", memo="退回"
    )
    LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1, state="active")
    r = client_as(world.finance).get(url("fund_list"))
    (row,) = r.context["rows"]
    assert (row.outstanding, row.headroom, row.used_percent) == (
        Decimal("30000.00"),
        Decimal("3000.00"),
        Decimal("90.9"),
    )
    assert row.warning
    assert "接近或达到上限" in r.content.decode()


def test_a_loan_officer_sees_but_cannot_post(world, client_as):
    client = client_as(world.officer)
    r = client.get(url("fund_detail", world.fund.pk))
    assert r.status_code == 200 and r.context["form"] is None
    assert "登记资金变动" not in r.content.decode()
    r = client.post(
        url("movement_create", world.fund.pk),
        {"kind": "deposit", "amount": "1.00", "booked_on": "2026-06-17", "memo": "x"},
    )
    assert r.status_code == 403
    txn = LedgerTransaction.objects.get(fund=world.fund)
    assert client.post(url("transaction_reverse", world.fund.pk, txn.pk), {"reason": "x"}).status_code == 403
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_finance_records_a_deposit_and_reverses_it(world, client_as):
    client = client_as(world.finance)
    r = client.post(
        url("movement_create", world.fund.pk),
        {
            "kind": "deposit",
            "amount": "50000.00",
            "booked_on": "2026-06-16",
            "reference": "BK-9",
            "memo": "补充",
        },
    )
    assert r.status_code == 302
    assert ledger.balance(world.fund) == Decimal("10050000.00")
    txn = LedgerTransaction.objects.get(fund=world.fund, reference="BK-9")
    assert txn.booked_on == datetime.date(2026, 6, 16)
    page = client.get(url("fund_detail", world.fund.pk)).content.decode()
    assert "50,000.00" in page and "冲正原因" in page
    r = client.post(url("transaction_reverse", world.fund.pk, txn.pk), {"reason": "录错"})
    assert r.status_code == 302
    assert ledger.balance(world.fund) == Decimal("10000000.00")
    assert AuditEvent.objects.filter(action="riskfund.reversal").count() == 1
    reversal = LedgerTransaction.objects.get(reverses=txn)
    page = client.get(url("fund_detail", world.fund.pk)).content.decode()
    assert f"已被 #{reversal.pk} 冲正" in page
    assert url("transaction_reverse", world.fund.pk, txn.pk) not in page
    assert url("transaction_reverse", world.fund.pk, reversal.pk) not in page
    # A second reversal is refused with the reason shown.
    r = client.post(url("transaction_reverse", world.fund.pk, txn.pk), {"reason": "再冲"}, follow=True)
    assert "该笔交易已被冲正。" in r.content.decode()
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_a_withdrawal_beyond_the_balance_shows_on_the_form(world, client_as):
    r = client_as(world.finance).post(
        url("movement_create", world.fund.pk),
        {"kind": "withdrawal", "amount": "10000000.01", "booked_on": "2026-06-17", "memo": "全部"},
    )
    assert r.status_code == 400
    assert "10,000,000.00" in str(r.context["form"].errors)
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_recording_a_fund(world, client_as):
    other_finance = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    client = client_as(other_finance)
    data = {
        "bank": world.bank.pk,
        "name": "灵川县风险补偿金",
        "account_no": "6230 1",
        "opened_on": "2026-06-01",
    }
    r = client.post(url("fund_create"), data)
    assert r.status_code == 302
    fund = RiskFund.objects.get(county=world.other_county)
    assert (fund.bank, fund.name, fund.created_by) == (world.bank, "灵川县风险补偿金", other_finance)
    assert AuditEvent.objects.filter(action="riskfund.fund_create", object_id=str(fund.pk)).exists()
    r = client.post(url("fund_create"), data)
    assert r.status_code == 400 and "bank" in r.context["form"].errors
    for who in ("officer", "county_office", "committee"):
        assert client_as(getattr(world, who)).get(url("fund_create")).status_code == 403


def test_list_and_detail_query_counts_do_not_grow_with_entries(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.finance)
    _deposits(world, 2)
    with CaptureQueriesContext(connection) as list_few:
        assert client.get(url("fund_list")).status_code == 200
    with CaptureQueriesContext(connection) as detail_few:
        assert client.get(url("fund_detail", world.fund.pk)).status_code == 200
    _deposits(world, 25)
    with django_assert_max_num_queries(len(list_few.captured_queries)):
        assert client.get(url("fund_list")).status_code == 200
    with django_assert_max_num_queries(len(detail_few.captured_queries)):
        r = client.get(url("fund_detail", world.fund.pk))
    assert len(r.context["page_obj"].object_list) == 20


def test_the_admin_is_read_only_and_scoped_to_the_county(world, client_as):
    ledger.movement_record(
        acting_user=world.finance, fund=world.fund, kind=Kind.INTEREST, amount="1.00", memo="息"
    )
    txn = LedgerTransaction.objects.get(kind=Kind.INTEREST)
    root = UserFactory(
        username="root", is_superuser=True, is_staff=True, unit=world.county, roles=[Role.ADMIN]
    )
    client = client_as(root)
    listing = client.get(reverse("admin:riskfund_riskfund_changelist"))
    assert listing.status_code == 200 and world.fund.name in listing.content.decode()
    page = client.get(reverse("admin:riskfund_ledgertransaction_change", args=[txn.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:riskfund_ledgerentry_add")).status_code == 403
    for name in ("compensationclaim", "recovery", "ledgerentry"):
        assert client.get(reverse(f"admin:riskfund_{name}_changelist")).status_code == 200
    other = UserFactory(
        username="root2", is_superuser=True, is_staff=True, unit=world.other_county, roles=[Role.ADMIN]
    )
    for name in ("riskfund", "ledgertransaction", "ledgerentry", "compensationclaim"):
        listing = client_as(other).get(reverse(f"admin:riskfund_{name}_changelist"))
        assert world.fund.name not in listing.content.decode(), name
    r = client_as(other).get(reverse("admin:riskfund_ledgertransaction_change", args=[txn.pk]))
    assert r.status_code == 302  # admin answers an object outside the queryset by going back to the list


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("finance", True),
        ("county_office", True),
        ("committee", True),
        ("officer", True),
        ("approver", True),
        ("admin", True),
        ("cadre", False),
        ("township_officer", False),
    ],
)
def test_the_menu_group(world, client_as, who, shown):
    html = client_as(getattr(world, who)).get("/").content.decode()
    for name in ("fund_list", "claim_list", "recovery_list"):
        assert (f'href="{url(name)}"' in html) is shown


def test_the_list_searches(world, client_as):
    client = client_as(world.finance)
    assert [r.fund for r in client.get(url("fund_list"), {"q": "农商"}).context["rows"]] == [world.fund]
    r = client.get(url("fund_list"), {"q": "没有这个"})
    assert r.context["rows"] == [] and "没有符合" in r.content.decode()
