"""The fund's statement of a period: figures worked out by hand for entries before, inside and
after it, the XLSX (a memo that looks like a formula stays text) and the PDF for signature."""

import datetime
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from riskfund import statements
from riskfund.models import Account, LedgerTransaction
from riskfund.services import ledger

pytestmark = pytest.mark.django_db
Kind = LedgerTransaction.Kind
D = datetime.date


def _move(world, kind, amount, on, memo="摘要"):
    return ledger.movement_record(
        acting_user=world.finance, fund=world.fund, kind=kind, amount=Decimal(amount), booked_on=on, memo=memo
    )


def _post(world, kind, account, fund_amount, on):
    """A compensation or recovery leg pair, straight through ledger.post (claims are not under test)."""
    fund = ledger.fund_lock(world.fund)
    amount = Decimal(fund_amount)
    return ledger.post(
        acting_user=world.finance,
        fund=fund,
        kind=kind,
        booked_on=on,
        memo=str(kind),
        legs=[(Account.FUND, amount), (account, -amount)],
    )


@pytest.fixture
def book(world):
    """10,000,000.00 opened 2016-01-04 (the world's deposit), then:
    before the period  2026-02-10 deposit 1,000.00
    inside 03-01..05-31 03-05 deposit 2,000.00 ("=1+1"), 04-01 interest 12.34, 04-15 compensation
                       800.00, 05-02 recovery 200.00, 05-31 withdrawal 500.00
    after it           06-10 deposit 5,000.00; today (06-17) the 03-05 deposit is reversed."""
    _move(world, Kind.DEPOSIT, "1000.00", D(2026, 2, 10))
    mistaken = _move(world, Kind.DEPOSIT, "2000.00", D(2026, 3, 5), memo="=1+1")
    _move(world, Kind.INTEREST, "12.34", D(2026, 4, 1))
    _post(world, Kind.COMPENSATION, Account.COMPENSATION, "-800.00", D(2026, 4, 15))
    _post(world, Kind.RECOVERY, Account.RECOVERY, "200.00", D(2026, 5, 2))
    _move(world, Kind.WITHDRAWAL, "500.00", D(2026, 5, 31))
    _move(world, Kind.DEPOSIT, "5000.00", D(2026, 6, 10))
    ledger.transaction_reverse(acting_user=world.finance, txn=mistaken, reason="重复录入")
    return world


def test_figures_of_a_period_with_entries_before_inside_and_after(book):
    s = statements.statement(book.fund, start=D(2026, 3, 1), end=D(2026, 5, 31))
    assert s.opening == Decimal("10001000.00")  # 10,000,000.00 + 1,000.00
    assert (s.deposits, s.interest, s.payouts, s.recoveries, s.withdrawals, s.reversals) == (
        Decimal("2000.00"),
        Decimal("12.34"),
        Decimal("800.00"),
        Decimal("200.00"),
        Decimal("500.00"),
        Decimal("0.00"),
    )
    # 10,001,000.00 + 2,000.00 + 12.34 − 800.00 + 200.00 − 500.00
    assert s.closing == Decimal("10001912.34")
    assert s.closing == ledger.balance(book.fund, on_date=D(2026, 5, 31))
    assert [t.booked_on for t in s.transactions] == [
        D(2026, 3, 5),
        D(2026, 4, 1),
        D(2026, 4, 15),
        D(2026, 5, 2),
        D(2026, 5, 31),
    ]
    assert [label for label, _ in s.lines][0] == "期初余额"


def test_a_period_with_the_reversal(book):
    s = statements.statement(book.fund, start=D(2026, 6, 1), end=D(2026, 6, 17))
    assert s.opening == Decimal("10001912.34")
    assert s.deposits == Decimal("5000.00")
    assert s.reversals == Decimal("-2000.00")
    assert s.closing == Decimal("10004912.34") == ledger.balance(book.fund)


def test_statement_page_defaults_to_the_current_quarter(client, book):
    client.force_login(book.committee)
    r = client.get(reverse("riskfund:statement", args=[book.fund.pk]))
    assert r.status_code == 200
    s = r.context["s"]
    assert (s.start, s.end) == (D(2026, 4, 1), D(2026, 6, 30))
    assert s.opening == Decimal("10003000.00")
    assert s.closing == Decimal("10004912.34")
    html = r.content.decode()
    assert "期初余额" in html and "10,003,000.00" in html and "10,004,912.34" in html


def test_statement_page_refuses_a_backwards_period(client, book):
    client.force_login(book.finance)
    r = client.get(
        reverse("riskfund:statement", args=[book.fund.pk]), {"start": "2026-05-01", "end": "2026-04-01"}
    )
    assert r.status_code == 400


def test_xlsx_keeps_a_formula_like_memo_as_text(client, book):
    client.force_login(book.finance)
    r = client.get(
        reverse("riskfund:statement", args=[book.fund.pk]),
        {"start": "2026-03-01", "end": "2026-05-31", "format": "xlsx"},
    )
    assert r.status_code == 200
    assert "attachment" in r["Content-Disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    cells = [c for row in ws.iter_rows() for c in row]
    memos = [c for c in cells if c.value == "=1+1"]  # on each of the deposit's two legs
    assert len(memos) == 2 and all(c.data_type == "s" for c in memos)
    assert not [c for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert "期初余额" in values and "期末余额" in values
    closing = cells[values.index("期末余额") + 1]
    assert Decimal(str(closing.value)) == Decimal("10001912.34")


def pdf_text(data: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def test_pdf_has_the_fund_the_balances_and_the_signature_lines(client, book):
    client.force_login(book.finance)
    r = client.get(
        reverse("riskfund:statement", args=[book.fund.pk]),
        {"start": "2026-03-01", "end": "2026-05-31", "format": "pdf"},
    )
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = pdf_text(r.content)
    for words in (
        book.fund.name,
        "期初余额",
        "期末余额",
        "经办人",
        "复核人",
        "财政局负责人",
        "银行负责人",
        "日期",
    ):
        assert words in text, words
    assert "10,001,912.34" in text
    assert "1/1" in text.replace(
        " ", ""
    )  # the page counter of static/css/riskfund_statement_pdf.css: its styles apply


def test_statement_of_another_countys_fund_is_404(client, book):
    from accounts.models import Role
    from tests.factories import UserFactory

    stranger = UserFactory(unit=book.other_county, roles=[Role.FINANCE])
    client.force_login(stranger)
    assert client.get(reverse("riskfund:statement", args=[book.fund.pk])).status_code == 404
