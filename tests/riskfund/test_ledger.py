"""The fund's ledger (issue 12, Ledger): entries and transactions never change at the database,
a transaction's legs sum to zero at commit, a reversal restores the balance once, and the
co-managed account never goes below zero — not even with two payouts at the same moment."""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from riskfund.models import Account, LedgerEntry, LedgerTransaction, RiskFund
from riskfund.services import ledger
from tests.concurrency import run_together

Kind = LedgerTransaction.Kind

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers under test are PostgreSQL's"
)


def _deposit(world, amount="1000.00", **kw):
    return ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind=Kind.DEPOSIT,
        amount=Decimal(amount),
        memo="补充存入",
        **kw,
    )


# ---- immutability at the database -------------------------------------------------------------


@needs_postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE riskfund_ledgerentry SET amount = amount + 1 WHERE id = %s",
        "DELETE FROM riskfund_ledgerentry WHERE id = %s",
    ],
)
def test_raw_sql_cannot_change_an_entry(world, sql):
    entry = LedgerEntry.objects.filter(fund=world.fund).first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == entry.amount


@needs_postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE riskfund_ledgertransaction SET memo = 'changed' WHERE id = %s",
        "DELETE FROM riskfund_ledgertransaction WHERE id = %s",
    ],
)
def test_raw_sql_cannot_change_a_transaction(world, sql):
    txn = _deposit(world)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [txn.pk])
    assert LedgerTransaction.objects.get(pk=txn.pk).memo == "补充存入"


@needs_postgres
@pytest.mark.django_db
def test_the_orm_cannot_change_an_entry(world):
    entry = LedgerEntry.objects.filter(fund=world.fund, account=Account.FUND).first()
    entry.amount = Decimal("1.00")
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("2.00"))
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.get(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("10000000.00")
    assert ledger.balance(world.fund) == Decimal("10000000.00")


@needs_postgres
@pytest.mark.django_db
def test_the_orm_cannot_change_a_transaction(world):
    txn = _deposit(world)
    txn.memo = "changed"
    with pytest.raises(DatabaseError), transaction.atomic():
        txn.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerTransaction.objects.filter(pk=txn.pk).update(booked_on=datetime.date(2020, 1, 1))
    # Deleting through the ORM is refused before SQL (its legs protect it) and at the database.
    with pytest.raises((ProtectedError, DatabaseError)), transaction.atomic():
        LedgerTransaction.objects.get(pk=txn.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(transaction=txn)._raw_delete(using="default")
    assert LedgerTransaction.objects.get(pk=txn.pk).memo == "补充存入"
    assert txn.entries.count() == 2


@needs_postgres
@pytest.mark.django_db
def test_an_unbalanced_transaction_fails_when_checked_at_commit(world):
    """Two legs written straight into the table that do not sum to zero: the deferred trigger
    refuses them when the constraints are checked (as at commit)."""
    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        txn = LedgerTransaction.objects.create(
            fund=world.fund,
            kind=Kind.DEPOSIT,
            booked_on=datetime.date(2026, 6, 1),
            memo="x",
            created_by=world.finance,
        )
        LedgerEntry.objects.create(
            transaction=txn, fund=world.fund, account=Account.FUND, amount=Decimal("100.00")
        )
        LedgerEntry.objects.create(
            transaction=txn, fund=world.fund, account=Account.COUNTY, amount=Decimal("-99.99")
        )
        connection.check_constraints()
    assert ledger.balance(world.fund) == Decimal("10000000.00")


@needs_postgres
@pytest.mark.django_db
def test_a_zero_leg_is_refused(world):
    txn = _deposit(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            transaction=txn, fund=world.fund, account=Account.FUND, amount=Decimal("0")
        )


def test_post_refuses_unbalanced_legs_before_writing():
    with pytest.raises(ValueError):
        ledger.post(
            acting_user=None,
            fund=None,
            kind=Kind.DEPOSIT,
            booked_on=datetime.date(2026, 6, 1),
            memo="x",
            legs=[(Account.FUND, Decimal("1.00")), (Account.COUNTY, Decimal("-0.99"))],
        )


# ---- movements, reversals, the balance ---------------------------------------------------------


@pytest.mark.django_db
def test_deposit_interest_withdrawal_and_their_audit(world):
    before = AuditEvent.objects.count()
    _deposit(world, "2500.50", booked_on=datetime.date(2026, 6, 1), reference="BK-1")
    ledger.movement_record(
        acting_user=world.finance, fund=world.fund, kind=Kind.INTEREST, amount="12.34", memo="二季度利息"
    )
    ledger.movement_record(
        acting_user=world.finance, fund=world.fund, kind=Kind.WITHDRAWAL, amount="500.00", memo="退回财政"
    )
    # 10,000,000.00 + 2,500.50 + 12.34 − 500.00
    assert ledger.balance(world.fund) == Decimal("10002012.84")
    assert ledger.balance(world.fund, on_date=datetime.date(2026, 5, 31)) == Decimal("10000000.00")
    assert AuditEvent.objects.count() == before + 3
    event = AuditEvent.objects.filter(action="riskfund.deposit").latest("id")
    assert event.data["legs"] == [["fund", "2500.50"], ["county", "-2500.50"]]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["officer", "approver", "committee", "county_office", "admin"])
def test_only_the_countys_finance_keeps_the_ledger(world, who):
    with pytest.raises(NotPermitted):
        ledger.movement_record(
            acting_user=getattr(world, who), fund=world.fund, kind=Kind.DEPOSIT, amount="1.00", memo="x"
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "booked_on", "memo", "field"),
    [
        ("0", None, "x", "amount"),
        ("-5", None, "x", "amount"),
        ("1.001", None, "x", "amount"),
        ("1.00", datetime.date(2026, 6, 18), "x", "booked_on"),
        ("1.00", None, "   ", "memo"),
    ],
)
def test_bad_movements_are_refused(world, amount, booked_on, memo, field):
    with pytest.raises(ApplicationError) as refused:
        ledger.movement_record(
            acting_user=world.finance,
            fund=world.fund,
            kind=Kind.DEPOSIT,
            amount=Decimal(amount),
            booked_on=booked_on,
            memo=memo,
        )
    assert refused.value.field == field


@pytest.mark.django_db
def test_a_reversal_restores_the_balance_once(world):
    txn = _deposit(world, "3000.00")
    assert ledger.balance(world.fund) == Decimal("10003000.00")
    reversal = ledger.transaction_reverse(acting_user=world.finance, txn=txn, reason="金额录错")
    assert reversal.kind == Kind.REVERSAL and reversal.reverses == txn
    assert sorted((e.account, e.amount) for e in reversal.entries.all()) == [
        (Account.COUNTY, Decimal("3000.00")),
        (Account.FUND, Decimal("-3000.00")),
    ]
    assert ledger.balance(world.fund) == Decimal("10000000.00")
    with pytest.raises(ApplicationError) as again:
        ledger.transaction_reverse(acting_user=world.finance, txn=txn, reason="再冲一次")
    assert again.value.code == "already_reversed"
    with pytest.raises(ApplicationError):
        ledger.transaction_reverse(acting_user=world.finance, txn=reversal, reason="冲销冲销")
    assert ledger.balance(world.fund) == Decimal("10000000.00")
    assert LedgerTransaction.objects.filter(fund=world.fund).count() == 3


@pytest.mark.django_db
def test_a_reversal_needs_a_reason(world):
    txn = _deposit(world)
    with pytest.raises(ApplicationError):
        ledger.transaction_reverse(acting_user=world.finance, txn=txn, reason=" ")


@pytest.mark.django_db
def test_a_withdrawal_beyond_the_balance_is_refused(world):
    with pytest.raises(ApplicationError) as refused:
        ledger.movement_record(
            acting_user=world.finance,
            fund=world.fund,
            kind=Kind.WITHDRAWAL,
            amount=Decimal("10000000.01"),
            memo="全部退回",
        )
    assert refused.value.code == "rule_failed"
    assert refused.value.extra["balance"] == "10000000.00"
    assert refused.value.extra["amount"] == "10000000.01"
    assert refused.value.extra["rules"][0]["rule"] == "fund_balance"
    assert "10,000,000.00" in str(refused.value.message)
    assert ledger.balance(world.fund) == Decimal("10000000.00")
    # The whole balance can leave.
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind=Kind.WITHDRAWAL,
        amount="10000000.00",
        memo="全部退回",
    )
    assert ledger.balance(world.fund) == Decimal("0.00")


# ---- two payouts at the same moment -----------------------------------------------------------


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_payouts_of_60_percent_at_once_one_succeeds(world):
    fund_id, finance_id = world.fund.pk, world.finance.pk

    def withdraw():
        from accounts.models import User

        return ledger.movement_record(
            acting_user=User.objects.get(pk=finance_id),
            fund=RiskFund.objects.get(pk=fund_id),
            kind=Kind.WITHDRAWAL,
            amount=Decimal("6000000.00"),
            memo="退回财政",
        )

    outcomes = run_together(world.fund, withdraw, withdraw)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    (refusal,) = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(refusal, ApplicationError) and refusal.code == "rule_failed"
    assert refusal.extra["balance"] == "4000000.00"
    assert ledger.balance(world.fund) == Decimal("4000000.00")
    assert LedgerTransaction.objects.filter(fund_id=fund_id, kind=Kind.WITHDRAWAL).count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_unbalanced_transaction_fails_at_commit(world):
    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        txn = LedgerTransaction.objects.create(
            fund=world.fund,
            kind=Kind.DEPOSIT,
            booked_on=datetime.date(2026, 6, 1),
            memo="x",
            created_by=world.finance,
        )
        LedgerEntry.objects.create(
            transaction=txn, fund=world.fund, account=Account.FUND, amount=Decimal("100.00")
        )
    assert not LedgerTransaction.objects.filter(memo="x").exists()
    # An overdraft written straight into the table, past the services' check, fails at commit too.
    with pytest.raises(DatabaseError, match="below zero"), transaction.atomic():
        txn = LedgerTransaction.objects.create(
            fund=world.fund,
            kind=Kind.WITHDRAWAL,
            booked_on=datetime.date(2026, 6, 1),
            memo="y",
            created_by=world.finance,
        )
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    transaction=txn, fund=world.fund, account=Account.FUND, amount=Decimal("-10000000.01")
                ),
                LedgerEntry(
                    transaction=txn, fund=world.fund, account=Account.COUNTY, amount=Decimal("10000000.01")
                ),
            ]
        )
    assert ledger.balance(world.fund) == Decimal("10000000.00")


@pytest.mark.django_db
def test_a_backdated_withdrawal_may_not_leave_an_earlier_day_below_zero(world):
    # Everything left on 1 June; 5,000 came in today (17 June). Today's balance would cover a
    # withdrawal of 3,000, but booked on 10 June it would leave 10-16 June at −3,000.
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind=Kind.WITHDRAWAL,
        amount=Decimal("10000000.00"),
        booked_on=datetime.date(2026, 6, 1),
        memo="全部退回",
    )
    _deposit(world, "5000.00")
    with pytest.raises(ApplicationError) as refused:
        ledger.movement_record(
            acting_user=world.finance,
            fund=world.fund,
            kind=Kind.WITHDRAWAL,
            amount=Decimal("3000.00"),
            booked_on=datetime.date(2026, 6, 10),
            memo="退回",
        )
    assert refused.value.extra["rules"][0]["rule"] == "fund_balance"
    assert refused.value.extra["balance"] == "0.00"
    assert refused.value.extra["booked_on"] == "2026-06-10"
    assert ledger.balance(world.fund, on_date=datetime.date(2026, 6, 16)) == Decimal("0.00")
    # Booked today it is covered.
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind=Kind.WITHDRAWAL,
        amount=Decimal("3000.00"),
        memo="退回",
    )
    assert ledger.balance(world.fund) == Decimal("2000.00")


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["NaN", "Infinity", "abc", "-5.00", "1.005"])
def test_a_movement_of_no_real_amount_is_a_field_error(world, amount):
    with pytest.raises(ApplicationError) as refused:
        ledger.movement_record(
            acting_user=world.finance, fund=world.fund, kind=Kind.DEPOSIT, amount=amount, memo="存入"
        )
    assert refused.value.code == "invalid"
    assert ledger.balance(world.fund) == Decimal("10000000.00")
