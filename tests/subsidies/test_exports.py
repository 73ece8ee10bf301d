"""The exports of a subsidy batch (issue #5, Outputs → Exports): the detail workbook, the summary
and public PDFs (real PDFs, read back with pdftotext) and the bank's payment file, with who may
download them and in which states."""

import csv
import datetime
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from accounts.models import Role
from core.models import AuditEvent
from loans.models import Loan
from subsidies import exports, services
from subsidies.exports import amount_in_capitals
from subsidies.models import ExcludedReason
from subsidies.views_exports import XLSX
from subsidies.workflow import State
from tests.factories import UserFactory

from .conftest import today_is

D = datetime.date
KINDS = ("export-xlsx", "export-summary-pdf", "export-public-pdf", "export-payment-csv")


# ---- 大写金额 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0.00", "零元整"),
        ("0", "零元整"),
        ("0.004", "零元整"),
        ("0.005", "壹分"),
        ("0.05", "伍分"),
        ("0.50", "伍角"),
        ("0.56", "伍角陆分"),
        ("1", "壹元整"),
        ("10", "壹拾元整"),
        ("15.00", "壹拾伍元整"),
        ("100.05", "壹佰元零伍分"),
        ("101", "壹佰零壹元整"),
        ("110", "壹佰壹拾元整"),
        ("1010", "壹仟零壹拾元整"),
        ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
        # The examples of the PBOC rules for filling in vouchers.
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
        ("107000.53", "壹拾万柒仟元零伍角叁分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("10000.00", "壹万元整"),
        ("10001", "壹万零壹元整"),
        ("10010", "壹万零壹拾元整"),
        ("100100", "壹拾万零壹佰元整"),
        ("110000", "壹拾壹万元整"),
        ("1000000.10", "壹佰万元零壹角"),
        ("1000000.01", "壹佰万元零壹分"),
        ("20000000", "贰仟万元整"),
        ("100000000", "壹亿元整"),
        ("100000001", "壹亿零壹元整"),
        ("100010000", "壹亿零壹万元整"),
        ("123456789012.34", "壹仟贰佰叁拾肆亿伍仟陆佰柒拾捌万玖仟零壹拾贰元叁角肆分"),
        ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_amount_in_capitals(amount, words):
    assert amount_in_capitals(Decimal(amount)) == words


def test_amount_in_capitals_takes_int_and_str_but_not_float_or_negative():
    assert amount_in_capitals(1234) == "壹仟贰佰叁拾肆元整"
    assert amount_in_capitals("1234.56") == "壹仟贰佰叁拾肆元伍角陆分"
    with pytest.raises(TypeError):
        amount_in_capitals(0.1)
    with pytest.raises(ValueError):
        amount_in_capitals(Decimal("-0.01"))
    with pytest.raises(ValueError):
        amount_in_capitals(Decimal("10000000000000000"))


@pytest.mark.parametrize(
    ("share", "text"),
    [(Decimal("1.0000"), "100%"), (Decimal("0.8000"), "80%"), (Decimal("0.8750"), "87.5%"), (None, "-")],
)
def test_share_percent(share, text):
    assert exports.share_percent(share) == text


# ---- a computed batch ------------------------------------------------------------------------------
#
# Q3 2025, loans of 50,000 at 4.35% (under the 4.75% benchmark cap), 50000 × 4.35% ÷ 360 a day:
#   A (五通村)  one settlement 6-20…9-20, 92 days: 555.83, paid; account on file
#   B (茶洞村)  6-20…7-20, 30 days: 181.25 and 7-20…8-20, 31 days: 187.29 (+ 12.34 penalty,
#              never subsidized), both paid
#   C (两江村)  6-20…9-20 not paid: no subsidy, waits ("unpaid")
#   D (五通村)  no settlement in the quarter: a line saying so
# Total 555.83 + 181.25 + 187.29 = 924.37.

TOTAL = Decimal("924.37")
TOTAL_WORDS = "玖佰贰拾肆元叁角柒分"


class Case:
    def __init__(self, world, make_loan, settle):
        self.a = make_loan(village=world.v1a)
        Loan.objects.filter(pk=self.a.pk).update(account_no=" 6217001234567890123 ")
        settle(self.a, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=D(2025, 9, 20))
        self.b = make_loan(village=world.v1b, account_no="6217009999000000001")
        settle(self.b, D(2025, 6, 20), D(2025, 7, 20), interest_due="181.25", paid_on=D(2025, 7, 20))
        settle(
            self.b,
            D(2025, 7, 20),
            D(2025, 8, 20),
            interest_due="187.29",
            penalty_paid="12.34",
            paid_on=D(2025, 8, 20),
        )
        self.c = make_loan(village=world.v2a)
        settle(self.c, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83")
        self.d = make_loan(village=world.v1a)
        self.batch = None


@pytest.fixture
def case(world, make_loan, settle, compute_now, after_q3):
    case = Case(world, make_loan, settle)
    case.batch = compute_now()
    assert case.batch.total == TOTAL
    return case


@pytest.fixture
def approve(world, finance2, monkeypatch):
    """Review (the computer) and approve (a second finance officer); `pay=True` also pays."""

    def run(batch, pay=False):
        batch = services.batch_review(acting_user=world.finance, batch=batch)
        batch = services.batch_approve(acting_user=finance2, batch=batch)
        if pay:
            # Paid on the day of the approval: the batch's own clock is back in 2025.
            today_is(monkeypatch, timezone.localdate())
            batch = services.batch_pay(acting_user=world.finance, batch=batch, paid_on=timezone.localdate())
        return batch

    return run


@pytest.fixture
def other_finance(world):
    return UserFactory(username="otherfinance", unit=world.other_county, roles=[Role.FINANCE])


def url(name: str, batch, **query) -> str:
    address = reverse(f"subsidies:{name}", args=[batch.pk])
    if query:
        address += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return address


def content(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def pdf_text(data: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    assert data.startswith(b"%PDF-")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return _(message)


def workbook_rows(data: bytes) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data))
    return list(wb.worksheets[0].iter_rows(values_only=True))


# ---- the detail workbook ------------------------------------------------------------------------------


def test_detail_xlsx(world, case, client_as):
    response = client_as(world.finance).get(url("export-xlsx", case.batch))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"]
    rows = workbook_rows(content(response))

    title, exported, header, *data, totals = rows
    with translation.override("zh-hans"):
        assert "临桂区" in title[0] and case.batch.label in title[0]
        assert case.batch.get_state_display() in title[0]
        unpaid = str(ExcludedReason.UNPAID.label)
        no_settlement = str(ExcludedReason.NO_SETTLEMENT.label)
    assert world.finance.name in exported[0]
    # Headers that already have their Chinese translation from the other apps.
    for chinese in ("乡镇", "村", "户编号", "借款合同编号", "计息起日", "计息止日", "本金", "实付利息"):
        assert chinese in header
    assert len(header) == 20

    assert len(data) == 5
    by_contract = {}
    for row in data:
        by_contract.setdefault(row[5], []).append(row)
    a = by_contract[case.a.contract_no][0]
    assert a[:6] == (
        "五通镇",
        "五通村",
        case.a.household.registration_no,
        case.a.borrower.name,
        case.a.borrower.id_number_masked,
        case.a.contract_no,
    )
    assert a[6].date() == D(2025, 6, 20) and a[7].date() == D(2025, 9, 20)
    assert a[8] == 92
    assert Decimal(str(a[9])) == Decimal("50000") and Decimal(str(a[10])) == Decimal("50000")
    assert [Decimal(str(v)) for v in a[11:14]] == [Decimal("4.35"), Decimal("4.75"), Decimal("4.35")]
    assert Decimal(str(a[14])) == Decimal("555.83") and Decimal(str(a[16])) == Decimal("555.83")
    assert a[17] is None
    # The whole period subsidized: 92 of 92 days, nothing reduced.
    assert (a[18], a[19]) == (92, None)
    b_penalty = by_contract[case.b.contract_no][1]
    assert Decimal(str(b_penalty[15])) == Decimal("12.34") and Decimal(str(b_penalty[16])) == Decimal(
        "187.29"
    )
    c = by_contract[case.c.contract_no][0]
    assert (c[2], c[16], c[17]) == (case.c.household.registration_no, 0, unpaid)
    d = by_contract[case.d.contract_no][0]
    assert (d[6], d[7], d[17]) == (None, None, no_settlement)

    # Rows come township by township, village by village.
    assert [row[1] for row in data] == ["五通村", "五通村", "茶洞村", "茶洞村", "两江村"]
    assert totals[0] == zh("Total")
    assert Decimal(str(totals[16])) == TOTAL and Decimal(str(totals[15])) == Decimal("12.34")
    # Only masked ID numbers leave the system in this list.
    text = repr(rows)
    for loan in (case.a, case.b, case.c, case.d):
        assert loan.borrower.id_number not in text
    event = AuditEvent.objects.get(action="subsidy_batch.export_xlsx")
    assert (event.actor, event.object_id) == (world.finance, str(case.batch.pk))
    assert event.data == {"lines": 5, "amount": "924.37"}


def test_village_cadre_gets_only_the_village(world, case, client_as):
    response = client_as(world.cadre).get(url("export-xlsx", case.batch))
    assert response.status_code == 200
    _title, _exported, _header, *data, totals = workbook_rows(content(response))
    assert {row[1] for row in data} == {"五通村"}
    assert {row[5] for row in data} == {case.a.contract_no, case.d.contract_no}
    assert Decimal(str(totals[16])) == Decimal("555.83")


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_is_exported_before_the_batch_is_computed(world, client_as, after_q3, kind):
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    response = client_as(world.finance).get(url(kind, batch))
    assert response.status_code == 409
    with translation.override("zh-hans"):
        assert batch.get_state_display() in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="subsidy_batch.export").exists()


# ---- the summary PDF -----------------------------------------------------------------------------------


def test_summary_pdf(world, case, client_as, approve):
    batch = approve(case.batch)
    response = client_as(world.finance).get(url("export-summary-pdf", batch))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    flat = "".join(text.split())
    assert "临桂区" in text
    assert "924.37" in text
    assert TOTAL_WORDS in flat
    for township in ("五通镇", "两江镇"):
        assert township in text
    for village in ("五通村", "茶洞村", "两江村"):
        assert village in text
    for label in ("Prepared by:", "Reviewed by:", "Approved by:", "Finance bureau (seal)", "Date:"):
        assert "".join(zh(label).split()) in flat
    with translation.override("zh-hans"):
        assert "".join(str(ExcludedReason.UNPAID.label).split()) in flat
        assert "".join(batch.get_state_display().split()) in flat
    # Who did what, and the profile the batch used.
    assert world.finance.name in text and batch.approved_by.name in text
    assert world.profile.name in text
    assert "50,000.00" in text
    assert AuditEvent.objects.filter(action="subsidy_batch.export_summary_pdf", actor=world.finance).exists()


def test_summary_of_a_village_cadre_says_it_is_partial(world, case, client_as):
    response = client_as(world.cadre).get(url("export-summary-pdf", case.batch))
    assert response.status_code == 200
    flat = "".join(pdf_text(response.content).split())
    assert "555.83" in flat and "924.37" not in flat
    assert "伍佰伍拾伍元捌角叁分" in flat
    assert (
        "".join(zh("This summary covers only the villages of your area, not the whole batch.").split())
        in flat
    )
    assert "茶洞村" not in flat


# ---- the public list -----------------------------------------------------------------------------------


def test_public_pdf_prints_masked_ids_only(world, case, client_as):
    response = client_as(world.county_office).get(url("export-public-pdf", case.batch))
    assert response.status_code == 200
    text = pdf_text(response.content)
    for loan in (case.a, case.b):
        assert loan.borrower.id_number_masked in text
        assert loan.borrower.name in text
        assert loan.contract_no in text
    for loan in (case.a, case.b, case.c, case.d):
        assert loan.borrower.id_number not in text
        # Nor the unmasked digits in any spacing.
        assert loan.borrower.id_number not in "".join(text.split())
    # Only lines with a subsidy are posted.
    assert case.c.contract_no not in text and case.d.contract_no not in text
    assert "555.83" in text and "181.25" in text and "187.29" in text
    assert "2025-06-20" in text
    event = AuditEvent.objects.get(action="subsidy_batch.export_public_pdf")
    assert event.data == {"lines": 3, "amount": "924.37", "village": None}


def test_public_pdf_of_one_village(world, case, client_as):
    client = client_as(world.county_office)
    response = client.get(url("export-public-pdf", case.batch, village=world.v1b.pk))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "茶洞村" in text and case.b.borrower.id_number_masked in text
    assert case.a.contract_no not in text
    assert client.get(url("export-public-pdf", case.batch, village=world.vz.pk)).status_code == 404
    assert client.get(url("export-public-pdf", case.batch, village="x")).status_code == 404
    # A cadre prints their own village's sheet, not another's.
    cadre = client_as(world.cadre)
    assert cadre.get(url("export-public-pdf", case.batch, village=world.v1b.pk)).status_code == 404
    assert cadre.get(url("export-public-pdf", case.batch, village=world.v1a.pk)).status_code == 200


def test_a_cancelled_batch_is_not_posted(world, case, client_as):
    batch = services.batch_cancel(acting_user=world.finance, batch=case.batch, reason="重算")
    client = client_as(world.finance)
    assert client.get(url("export-public-pdf", batch)).status_code == 409
    # It keeps its lines for the record.
    assert client.get(url("export-xlsx", batch)).status_code == 200


# ---- the payment file ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pay", [False, True])
def test_payment_csv(world, case, client_as, approve, pay):
    batch = approve(case.batch, pay=pay)
    assert batch.state == (State.PAID if pay else State.APPROVED)
    response = client_as(world.finance).get(url("export-payment-csv", batch))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert ".csv" in response["Content-Disposition"]
    data = response.content
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["收款账号", "户名", "金额(元)", "借款合同编号"]
    assert sorted(rows[1:]) == sorted(
        [
            ["6217001234567890123", case.a.borrower.name, "555.83", case.a.contract_no],
            # Two lines of one loan, one payment.
            ["6217009999000000001", case.b.borrower.name, "368.54", case.b.contract_no],
        ]
    )
    assert exports.missing_accounts(batch) == 0
    event = AuditEvent.objects.get(action="subsidy_batch.export_payment_csv")
    assert event.data == {"lines": 2, "amount": "924.37", "loans": 2, "missing_accounts": 0}


def test_missing_accounts_counts_loans_not_lines(world, case):
    assert exports.missing_accounts(case.batch) == 0
    Loan.objects.filter(pk=case.b.pk).update(account_no="")
    assert exports.missing_accounts(case.batch) == 1
    Loan.objects.filter(pk=case.b.pk).update(account_no="6217009999")
    assert exports.missing_accounts(case.batch) == 0
    # A loan without a subsidy needs no account.
    Loan.objects.filter(pk__in=[case.a.pk, case.c.pk]).update(account_no="  ")
    assert exports.missing_accounts(case.batch) == 1


def test_payment_csv_is_refused_before_approval(world, case, client_as):
    client = client_as(world.finance)
    response = client.get(url("export-payment-csv", case.batch))
    assert response.status_code == 409
    page = response.content.decode()
    assert case.batch.get_state_display() in page or "approved" in page
    assert reverse("subsidies:batch_detail", args=[case.batch.pk]) in page
    services.batch_review(acting_user=world.finance, batch=case.batch)
    assert client.get(url("export-payment-csv", case.batch)).status_code == 409
    assert not AuditEvent.objects.filter(action="subsidy_batch.export_payment_csv").exists()


@pytest.mark.parametrize("who", ["county_office", "cadre", "township_officer", "committee", "admin"])
def test_payment_csv_is_for_the_county_finance_staff_only(world, case, client_as, approve, who):
    batch = approve(case.batch)
    response = client_as(getattr(world, who)).get(url("export-payment-csv", batch))
    assert response.status_code == 403


# ---- scope, login, queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_another_county_gets_404(world, case, client_as, approve, other_finance, kind):
    batch = approve(case.batch)
    assert client_as(other_finance).get(url(kind, batch)).status_code == 404
    assert client_as(world.other_cadre).get(url(kind, batch)).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_login_required(world, case, client, kind):
    response = client.get(url(kind, case.batch))
    assert response.status_code == 302 and "login" in response["Location"]


def _add_loans(world, make_loan, settle, n):
    for i in range(n):
        loan = make_loan(village=(world.v1a, world.v1b, world.v2a)[i % 3])
        Loan.objects.filter(pk=loan.pk).update(account_no=f"62170000{i:08d}")
        settle(loan, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=D(2025, 9, 20))


def _queries(client, address) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(address)
        assert response.status_code == 200
        content(response)
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_lines(
    world, case, client_as, compute_now, make_loan, settle, approve, django_assert_max_num_queries
):
    client = client_as(world.finance)
    batch = approve(case.batch)
    small = {kind: _queries(client, url(kind, batch)) for kind in KINDS}
    # Twelve more loans in the three villages, the batch sent back, recomputed and approved again.
    services.batch_send_back(acting_user=world.finance, batch=batch, reason="新增贷款")
    _add_loans(world, make_loan, settle, 12)
    batch = approve(compute_now(batch=batch))
    assert batch.line_count == 17
    for kind in KINDS:
        with django_assert_max_num_queries(small[kind]):
            response = client.get(url(kind, batch))
            assert response.status_code == 200
            content(response)


def test_payment_csv_never_carries_a_formula(world, case, client_as, approve):
    """A borrower's name as typed into the household register could start with = or +: in the
    bank's payment file it stays text (a leading apostrophe), never a formula Excel would run."""
    from households.models import Member

    Member.objects.filter(pk=case.a.borrower_id).update(name='=HYPERLINK("http://x","点我")')
    batch = approve(case.batch)
    response = client_as(world.finance).get(url("export-payment-csv", batch))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    names = {row[3]: row[1] for row in rows[1:]}
    assert names[case.a.contract_no] == '\'=HYPERLINK("http://x","点我")'


def test_detail_xlsx_never_carries_a_formula(world, case, client_as):
    """A name typed as =HYPERLINK(…) is text in the detail list, not a live formula."""
    from households.models import Member

    Member.objects.filter(pk=case.a.borrower_id).update(name='=HYPERLINK("http://x","点我")')
    response = client_as(world.finance).get(url("export-xlsx", case.batch))
    wb = load_workbook(io.BytesIO(content(response)))
    cells = [
        c for row in wb.worksheets[0].iter_rows() for c in row if c.value and "HYPERLINK" in str(c.value)
    ]
    assert [(c.value, c.data_type) for c in cells] == [('=HYPERLINK("http://x","点我")', "s")]
