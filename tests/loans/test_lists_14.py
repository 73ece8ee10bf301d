"""The main loan lists (issue 14): sortable columns on the application list, the loan book and the
overdue list (whitelisted keys, unknown ones ignored, paging keeps the order, fixed query counts);
"申请金额" and "批准金额" as two columns; money as 50,000.00 and rates as 4.35%; the Excel exports
of the loan book and the overdue list (scope, filters, Chinese headers, numbers, masked ID numbers,
text that never becomes a formula, phone numbers only for the roles that call borrowers, a row
limit, an audit row); and the post-loan checks page opening on what needs action first."""

import datetime
import io
import re
from decimal import Decimal

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from core.models import AuditEvent
from loans import exports
from loans.models import Loan, LoanApplication, PostLoanCheck
from loans.workflow import State
from tests.factories import HouseholdFactory, LoanFactory, MemberFactory

pytestmark = pytest.mark.django_db


def loan(world, village=None, **over):
    village = village or world.v1a
    household = HouseholdFactory(village=village, **over.pop("household", {}))
    values = dict(
        branch=world.br1 if village.parent_id == world.t1.pk else world.br2,
        contract_no=factory.Sequence(lambda n: f"LS-{n:05d}"),
        receipt_no=factory.Sequence(lambda n: f"LR-{n:05d}"),
        amount=Decimal("50000.00"),
        outstanding=Decimal("50000.00"),
        disbursed_on=datetime.date(2025, 3, 1),
        maturity_on=datetime.date(2028, 3, 1),
        imported=False,
    )
    return LoanFactory(household=household, **{**values, **over})


def application(world, amount, approved=None, state=State.DRAFT, **over):
    household = HouseholdFactory(village=world.v1a)
    return LoanApplication.objects.create(
        household=household,
        borrower=household.members.get(is_head=True),
        amount=Decimal(amount),
        approved_amount=Decimal(approved) if approved else None,
        term_months=36,
        purpose_category="planting",
        branch=world.br1,
        state=state,
        created_by=world.cadre,
        **over,
    )


def contracts(response) -> list[str]:
    return [loan.contract_no for loan in response.context["page_obj"].object_list]


# ---- sorting -------------------------------------------------------------------------------------


def test_the_loan_book_sorts_by_a_whitelisted_column_both_ways(world, client_as):
    for n, amount in enumerate(("30000.00", "10000.00", "50000.00")):
        loan(world, contract_no=f"C-{n}", amount=Decimal(amount), outstanding=Decimal(amount))
    client = client_as(world.officer)
    url = reverse("loans:book_list")
    assert contracts(client.get(url, {"sort": "amount"})) == ["C-1", "C-0", "C-2"]
    r = client.get(url, {"sort": "-amount"})
    assert contracts(r) == ["C-2", "C-0", "C-1"]
    html = r.content.decode()
    assert 'aria-sort="descending"' in html
    assert re.search(r'href="\?sort=amount"[^>]*class="sorted-desc"', html)


@pytest.mark.parametrize(
    "sort", ["household__members__id_number_hash", "-password", "--amount", "amount;drop"]
)
def test_an_unknown_sort_key_is_ignored_everywhere(world, client_as, sort):
    loan(world, contract_no="C-1", days_past_due=10, state=Loan.State.OVERDUE)
    application(world, "10000.00")
    client = client_as(world.officer)
    for name in ("loans:book_list", "loans:overdue_list"):
        r = client.get(reverse(name), {"sort": sort})
        assert r.status_code == 200 and r.context["sorting"].key in ("disbursed", "dpd")
    r = client_as(world.cadre).get(reverse("loans:application_list"), {"sort": sort})
    assert r.status_code == 200 and r.context["sorting"].key == "created"


def test_paging_keeps_the_sort_and_the_query_count_stays_fixed(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.officer)
    url = reverse("loans:book_list")
    for n in range(3):
        loan(world, contract_no=f"C-{n:02d}", outstanding=Decimal(1000 + n))
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"sort": "outstanding"})
    for n in range(3, 25):
        loan(world, contract_no=f"C-{n:02d}", outstanding=Decimal(1000 + n))
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get(url, {"sort": "outstanding"})
    assert contracts(first) == [f"C-{n:02d}" for n in range(20)]
    html = first.content.decode()
    assert 'href="?sort=outstanding&amp;page=2"' in html
    assert contracts(client.get(url, {"sort": "outstanding", "page": 2})) == [
        f"C-{n:02d}" for n in range(20, 25)
    ]


def test_the_overdue_list_sorts_and_keeps_its_bucket(world, client_as):
    loan(world, contract_no="A", days_past_due=40, outstanding=Decimal("9000.00"), state=Loan.State.OVERDUE)
    loan(world, contract_no="B", days_past_due=60, outstanding=Decimal("1000.00"), state=Loan.State.OVERDUE)
    loan(world, contract_no="C", days_past_due=5, outstanding=Decimal("5000.00"), state=Loan.State.OVERDUE)
    client = client_as(world.officer)
    url = reverse("loans:overdue_list")
    assert [x.contract_no for x in client.get(url).context["loans"]] == ["B", "A", "C"]
    r = client.get(url, {"bucket": "31-90", "sort": "outstanding"})
    assert [x.contract_no for x in r.context["loans"]] == ["B", "A"]
    assert 'href="?bucket=31-90&amp;sort=-outstanding"' in r.content.decode()


def test_the_application_list_sorts_and_shows_amount_applied_for_and_approved_amount(world, client_as):
    application(world, "30000.00", "20000.00", state=State.APPROVED)
    application(world, "50000.00")
    application(world, "10000.00")
    client = client_as(world.cadre)
    url = reverse("loans:application_list")
    r = client.get(url, {"sort": "-amount"})
    assert [a.amount for a in r.context["page_obj"].object_list] == [
        Decimal("50000.00"),
        Decimal("30000.00"),
        Decimal("10000.00"),
    ]
    html = r.content.decode()
    # The two amounts are two columns with their own names; "金额" alone no longer hides which.
    assert "申请金额" in html and "批准金额" in html and "<th>金额" not in html
    assert '<td class="num">30,000.00</td>\n      <td class="num">20,000.00</td>' in html
    assert '<td class="num">50,000.00</td>\n      <td class="num"><span class="muted">-</span></td>' in html


# ---- money and rates ------------------------------------------------------------------------------


def test_money_and_rates_are_printed_as_people_write_them(world, client_as):
    item = loan(world, amount=Decimal("50000.00"), outstanding=Decimal("32500.50"), rate=Decimal("4.3500"))
    client = client_as(world.officer)
    book = client.get(reverse("loans:book_list")).content.decode()
    assert "50,000.00" in book and "32,500.50" in book and "4.35%" in book and "4.3500" not in book
    detail = client.get(reverse("loans:book_detail", args=[item.pk])).content.decode()
    assert "<td>4.35%" in detail and "贷款金额" in detail
    app = application(world, "30000.00", "30000.00", state=State.APPROVED, rate=Decimal("3.4500"))
    app.approved_on = datetime.date(2026, 6, 1)
    app.save(update_fields=["approved_on"])
    queue = client.get(reverse("loans:disbursement_queue")).content.decode()
    assert "30,000.00" in queue and "3.45%" in queue and "3.45<" not in queue


# ---- exports ------------------------------------------------------------------------------------


def workbook(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(response.content)).active


def test_the_loan_book_export_holds_the_filtered_scoped_rows_as_numbers_and_safe_text(world, client_as):
    mine = loan(world, contract_no="MINE-1", household={"head__name": '=HYPERLINK("http://x")'})
    mine.rate = Decimal("4.3500")
    mine.outstanding = Decimal("12345.60")
    mine.save()
    loan(world, contract_no="MINE-2", state=Loan.State.SETTLED, outstanding=Decimal("0.00"))
    loan(world, village=world.v2a, contract_no="OTHER-BRANCH")
    loan(world, village=world.vz, contract_no="OTHER-COUNTY")
    client = client_as(world.officer)
    ws = workbook(client.get(reverse("loans:book_export"), {"state": "active"}))
    rows = list(ws.iter_rows(values_only=True))
    assert "身份证号已遮盖" in rows[0][0]
    header = rows[1]
    assert header[:8] == (
        "乡镇",
        "村",
        "户编号",
        "借款人",
        "身份证号（脱敏）",
        "借款合同编号",
        "贷款金额",
        "本金余额",
    )
    body = rows[2:]
    # The branch's own township only, and the state filter as on the page.
    assert [row[5] for row in body] == ["MINE-1"]
    row = dict(zip(header, body[0], strict=True))
    assert row["贷款金额"] == 50000 and row["本金余额"] == 12345.6 and row["年利率（%）"] == 4.35
    assert row["状态"] == "正常"
    borrower = mine.borrower
    assert row["身份证号（脱敏）"] == borrower.id_number_masked and borrower.id_number not in str(body)
    # A name that looks like a formula stays text.
    cell = ws.cell(row=3, column=4)
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert ws.cell(row=3, column=7).number_format == "#,##0.00"
    assert ws.cell(row=3, column=7).data_type == "n"
    event = AuditEvent.objects.get(action="loan.export_book")
    assert (
        event.actor == world.officer
        and event.data["rows"] == 1
        and event.data["filter"] == {"state": "active"}
    )


def test_the_overdue_export_has_the_phone_for_the_loan_officer_only(world, client_as):
    late = loan(world, contract_no="LATE", days_past_due=45, state=Loan.State.OVERDUE)
    loan(world, contract_no="ON-TIME")
    phone = late.borrower.phone
    assert phone
    ws = workbook(client_as(world.officer).get(reverse("loans:overdue_export")))
    rows = list(ws.iter_rows(values_only=True))
    header = rows[1]
    assert "联系电话" in header and "逾期天数" in header
    row = dict(zip(header, rows[2], strict=True))
    assert len(rows) == 3 and row["借款合同编号"] == "LATE"
    assert row["联系电话"] == phone and row["逾期天数"] == 45 and row["逾期区间"] == "31-90 天"
    assert AuditEvent.objects.get(action="loan.export_overdue").data["phones"] is True

    # A borrower without a phone of their own: the household head's number is given.
    spouse_loan = loan(world, contract_no="SPOUSE", days_past_due=10, state=Loan.State.OVERDUE)
    spouse = MemberFactory(household=spouse_loan.household, phone="")
    spouse_loan.borrower = spouse
    spouse_loan.save()
    head_phone = spouse_loan.household.members.get(is_head=True).phone
    rows = list(
        workbook(client_as(world.officer).get(reverse("loans:overdue_export"))).iter_rows(values_only=True)
    )
    by_contract = {r[rows[1].index("借款合同编号")]: r[rows[1].index("联系电话")] for r in rows[2:]}
    assert by_contract == {"LATE": phone, "SPOUSE": head_phone}

    ws = workbook(client_as(world.county_office).get(reverse("loans:overdue_export")))
    rows = list(ws.iter_rows(values_only=True))
    assert "联系电话" not in rows[1] and phone not in str(rows)
    assert [r[rows[1].index("借款合同编号")] for r in rows[2:]] == ["LATE", "SPOUSE"]


def test_an_export_over_the_row_limit_is_refused_with_a_message(world, client_as, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_ROW_LIMIT", 1)
    loan(world)
    loan(world)
    client = client_as(world.officer)
    r = client.get(reverse("loans:book_export"), {"q": ""}, follow=True)
    assert r.redirect_chain[-1][0].startswith(reverse("loans:book_list"))
    assert "共有 2 笔贷款符合条件，一次最多导出 1 笔" in r.content.decode()
    assert not AuditEvent.objects.filter(action="loan.export_book").exists()


# ---- post-loan checks -----------------------------------------------------------------------------


@pytest.mark.today("2026-03-01")
def test_the_checks_page_opens_on_overdue_checks_when_there_are_any(world, client_as):
    client = client_as(world.officer)
    url = reverse("loans:checks_due")
    PostLoanCheck.objects.create(loan=loan(world), due_on=datetime.date(2026, 3, 10))
    assert client.get(url).context["status"] == "due"
    PostLoanCheck.objects.create(loan=loan(world), due_on=datetime.date(2026, 2, 20))
    r = client.get(url)
    assert r.context["status"] == "overdue" and len(r.context["checks"]) == 1
    # An explicit tab still wins.
    assert client.get(url, {"status": "due"}).context["status"] == "due"
    assert client.get(url, {"tab": "due"}).context["status"] == "due"


@pytest.mark.parametrize(
    "name, params",
    [("loans:application_list", {"sort": "-amount"}), ("loans:overdue_list", {"sort": "borrower"})],
)
def test_the_other_lists_keep_a_fixed_query_count_when_sorted(
    world, client_as, django_assert_max_num_queries, name, params
):
    user = world.cadre if name == "loans:application_list" else world.officer

    def grow(n):
        for _i in range(n):
            application(world, "10000.00")
            loan(world, days_past_due=40, state=Loan.State.OVERDUE)

    client = client_as(user)
    grow(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name), params).status_code == 200
    grow(12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(name), params).status_code == 200


def test_the_check_and_repayment_forms_open_with_todays_date_filled_in(world, client_as):
    """A date input shows only an ISO value; the zh-hans format (2026/06/17) left it empty."""
    item = loan(world)
    check = PostLoanCheck.objects.create(loan=item, due_on=datetime.date(2026, 7, 1))
    client = client_as(world.officer)
    html = client.get(reverse("loans:check_record", args=[check.pk])).content.decode()
    assert 'name="done_on" value="2026-06-17"' in html
    html = client.get(reverse("loans:repayment_create", args=[item.pk])).content.decode()
    assert 'name="paid_on" value="2026-06-17"' in html
