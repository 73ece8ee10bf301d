"""The bank's settlement list (结息清单) and settlements entered by hand: every bad row reported,
all or nothing, the same rows twice change nothing, a contradiction is reported and not
overwritten, an unpaid period that arrives paid is the one update allowed."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from loans import servicing
from loans.models import Loan, Settlement
from tests.factories import HouseholdFactory

D = datetime.date
EN = ["contract_no", "period_start", "period_end", "principal", "rate", "interest_due", "interest_paid",
      "penalty_paid", "paid_on"]  # fmt: skip
ZH = [
    "借款合同编号",
    "计息起日",
    "计息止日",
    "本金",
    "年利率",
    "应付利息",
    "实付利息",
    "罚息复利",
    "支付日期",
]
_n = iter(range(1, 10**6))


def make_loan(household, world, **fields) -> Loan:
    """A loan straight in the book, with every date chosen by the test."""
    n = next(_n)
    values = dict(
        household=household,
        borrower=household.members.get(is_head=True),
        branch=world.br1,
        contract_no=f"SV-{n:06d}",
        receipt_no=f"SVR-{n:06d}",
        amount=Decimal("30000.00"),
        rate=Decimal("4.3500"),
        rate_basis="benchmark",
        term_months=24,
        disbursed_on=D(2024, 1, 10),
        maturity_on=D(2026, 1, 10),
        use_mode="self",
        purpose_category="breeding",
    )
    values.update(fields)
    values.setdefault("outstanding", values["amount"])
    return Loan.objects.create(**values)


def row(loan, start="2024-01-10", end="2024-03-20", due="253.75", paid="253.75", paid_on="2024-03-20", **kw):
    # 30,000 × 4.35% × 70 / 360 = 253.75
    values = {
        "contract_no": loan.contract_no,
        "period_start": start,
        "period_end": end,
        "principal": "30000.00",
        "rate": "4.35",
        "interest_due": due,
        "interest_paid": paid,
        "penalty_paid": "0",
        "paid_on": paid_on,
    }
    values.update(kw)
    return values


def csv_file(rows, headers=EN, name="结息清单.csv", encoding="utf-8-sig"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for r in rows:
        writer.writerow([r[k] for k in EN])
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


def xlsx_file(rows, headers=ZH, name="结息清单.xlsx"):
    wb = Workbook()
    ws = wb.active
    ws.append(["2024年一季度结息清单"])  # a title line above the header
    ws.append(headers)
    for r in rows:
        ws.append([r[k] for k in EN])
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile(name, out.getvalue())


@pytest.fixture
def loan(world, household):
    return make_loan(household, world)


def run(world, file):
    return servicing.settlement_import(acting_user=world.officer, file=file, filename=file.name)


def test_import_creates_settlements(world, loan):
    result = run(
        world, csv_file([row(loan), row(loan, "2024-03-20", "2024-06-20", "333.50", "333.50", "2024-06-20")])
    )
    assert result.counts() == {"created": 2, "updated_paid_late": 0, "unchanged": 0}
    first = loan.settlements.get(period_start=D(2024, 1, 10))
    assert first.interest_due == Decimal("253.75")
    assert first.paid_on == D(2024, 3, 20)
    assert first.source == Settlement.Source.IMPORT
    assert first.recorded_by == world.officer
    assert AuditEvent.objects.filter(action="settlement.import", actor=world.officer).exists()


def test_same_file_twice_adds_nothing(world, loan):
    rows = [row(loan), row(loan, "2024-03-20", "2024-06-20", "333.50", "0", "")]
    run(world, csv_file(rows))
    again = run(world, csv_file(rows))
    assert again.counts() == {"created": 0, "updated_paid_late": 0, "unchanged": 2}
    assert loan.settlements.count() == 2


def test_chinese_headers_in_xlsx_and_gbk_csv(world, loan):
    assert run(world, xlsx_file([row(loan)])).created == 1
    other = make_loan(loan.household, world)
    assert run(world, csv_file([row(other)], headers=ZH, encoding="gb18030")).created == 1


def test_contradiction_is_reported_and_not_overwritten(world, loan):
    run(world, csv_file([row(loan)]))
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, due="260.00", paid="260.00")]))
    (error,) = e.value.result.errors
    assert (error.row, error.code) == (2, "contradiction")
    assert "应付利息" in error.message and "实付利息" in error.message
    assert loan.settlements.get().interest_due == Decimal("253.75")


def test_unpaid_then_paid_late_is_updated_with_audit(world, loan):
    run(world, csv_file([row(loan, paid="0", paid_on="")]))
    assert loan.settlements.get().paid_on is None
    result = run(world, csv_file([row(loan, paid="253.75", paid_on="2024-04-15", penalty_paid="1.20")]))
    assert result.counts() == {"created": 0, "updated_paid_late": 1, "unchanged": 0}
    s = loan.settlements.get()
    assert (s.paid_on, s.interest_paid, s.penalty_paid) == (
        D(2024, 4, 15),
        Decimal("253.75"),
        Decimal("1.20"),
    )
    event = AuditEvent.objects.get(action="settlement.paid_late", object_id=str(s.pk))
    assert event.actor == world.officer
    assert event.data["old"]["paid_on"] is None and event.data["new"]["paid_on"] == "2024-04-15"
    # Paid is final for the import: a later list that says unpaid again contradicts it.
    with pytest.raises(servicing.SettlementImportRejected):
        run(world, csv_file([row(loan, paid="0", paid_on="")]))


def test_all_or_nothing_with_one_bad_row(world, loan):
    rows = [
        row(loan),
        row(loan, "2024-03-20", "2024-06-20", "333.50", "0", ""),
        {**row(loan), "contract_no": "NO-SUCH"},
    ]
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file(rows))
    assert [(x.row, x.column, x.code) for x in e.value.result.errors] == [
        (4, "借款合同编号", "unknown_contract")
    ]
    assert Settlement.objects.count() == 0


@pytest.mark.parametrize(
    "change, column, code",
    [
        ({"principal": "-1"}, "本金", "negative"),
        ({"interest_paid": "-0.01"}, "实付利息", "negative"),
        ({"period_end": "2024-01-01"}, "计息止日", "period_order"),
        ({"interest_paid": "253.77"}, "实付利息", "overpaid"),  # more than due + 0.01
        ({"period_start": "2024-13-01"}, "计息起日", "invalid_date"),
        ({"interest_due": "abc"}, "应付利息", "invalid_amount"),
        ({"rate": ""}, "年利率", "required"),
        ({"paid_on": ""}, "支付日期", "paid_on_missing"),
    ],
)
def test_bad_cells(world, loan, change, column, code):
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, **change)]))
    assert [(x.row, x.column, x.code) for x in e.value.result.errors] == [(2, column, code)]


def test_one_fen_tolerance(world, loan):
    assert run(world, csv_file([row(loan, paid="253.76")])).created == 1


def test_same_period_twice_in_one_file(world, loan):
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file([row(loan), row(loan)]))
    assert [(x.row, x.code) for x in e.value.result.errors] == [(3, "duplicate_row")]


def test_loan_outside_the_users_area_is_unknown(world):
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file([row(elsewhere)]))
    assert e.value.result.errors[0].code == "unknown_contract"


def test_only_officers_and_admins_import(world, loan):
    with pytest.raises(NotPermitted):
        servicing.settlement_import(acting_user=world.cadre, file=csv_file([row(loan)]), filename="x.csv")
    assert servicing.settlement_import(
        acting_user=world.admin, file=csv_file([row(loan)]), filename="x.csv"
    ).created


def test_missing_column_and_unreadable_file(world, loan):
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, csv_file([row(loan)], headers=EN[:4] + ["x"] + EN[5:]))
    assert [(x.column, x.code) for x in e.value.result.errors] == [("年利率", "missing_column")]
    with pytest.raises(servicing.SettlementImportRejected) as e:
        run(world, SimpleUploadedFile("x.xlsx", b"not a workbook"))
    assert e.value.result.errors[0].code == "bad_file"


# ---- by hand ----------------------------------------------------------------------------------


def manual(world, loan, **kw):
    values = dict(
        period_start=D(2024, 1, 10),
        period_end=D(2024, 3, 20),
        principal=Decimal("30000"),
        rate=Decimal("4.35"),
        interest_due=Decimal("253.75"),
        interest_paid=Decimal("253.75"),
        paid_on=D(2024, 3, 21),
        reason="银行清单漏报，按回单补录",
    )
    values.update(kw)
    return servicing.settlement_record_manual(acting_user=world.officer, loan=loan, **values)


def test_manual_entry_needs_a_reason(world, loan):
    with pytest.raises(ApplicationError) as e:
        manual(world, loan, reason="  ")
    assert e.value.field == "reason"
    s = manual(world, loan)
    assert (s.source, s.reason) == (Settlement.Source.MANUAL, "银行清单漏报，按回单补录")
    assert AuditEvent.objects.filter(action="settlement.manual", object_id=str(s.pk)).exists()
    with pytest.raises(ConflictError):
        manual(world, loan)
    # The same figures in a later list count as already imported.
    assert run(world, csv_file([row(loan, paid_on="2024-03-21")])).unchanged == 1


def test_manual_entry_checks_amounts(world, loan):
    with pytest.raises(ApplicationError):
        manual(world, loan, interest_paid=Decimal("300"))
    with pytest.raises(ApplicationError):
        manual(world, loan, period_end=D(2024, 1, 1))
    with pytest.raises(NotPermitted):
        servicing.settlement_record_manual(
            acting_user=world.cadre, loan=loan, period_start=D(2024, 1, 10), period_end=D(2024, 3, 20),
            principal=Decimal("1"), rate=Decimal("4.35"), interest_due=Decimal("1"), reason="x",
        )  # fmt: skip


def test_correction_keeps_old_and_new(world, loan):
    run(world, csv_file([row(loan)]))
    s = loan.settlements.get()
    with pytest.raises(ApplicationError):
        servicing.settlement_correct(
            acting_user=world.officer, settlement=s, reason="", interest_due=Decimal("260")
        )
    servicing.settlement_correct(
        acting_user=world.officer, settlement=s, reason="银行更正", interest_due=Decimal("260.00")
    )
    s.refresh_from_db()
    assert (s.interest_due, s.reason) == (Decimal("260.00"), "银行更正")
    event = AuditEvent.objects.get(action="settlement.correct")
    assert event.data == {"old": {"interest_due": "253.75"}, "new": {"interest_due": "260.00"}}
    assert event.reason == "银行更正"


# ---- API and pages ---------------------------------------------------------------------------------


def test_api_import(world, loan, api_as):
    url = "/api/v1/settlement-imports/"
    answer = api_as(world.officer).post(url, {"file": csv_file([row(loan)])}, format="multipart")
    assert answer.status_code == 201, answer.content
    assert answer.json() == {"created": 1, "updated_paid_late": 0, "unchanged": 0}
    answer = api_as(world.officer).post(url, {"file": csv_file([row(loan)])}, format="multipart")
    assert answer.json() == {"created": 0, "updated_paid_late": 0, "unchanged": 1}
    bad = api_as(world.officer).post(
        url, {"file": csv_file([row(loan, due="1.00", paid="1.00")])}, format="multipart"
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "invalid"
    assert body["extra"]["rows"][0]["row"] == 2 and body["extra"]["rows"][0]["message"]
    assert (
        api_as(world.cadre).post(url, {"file": csv_file([row(loan)])}, format="multipart").status_code == 403
    )


def test_import_page_preview_then_confirm(world, loan, client_as):
    client = client_as(world.officer)
    url = reverse("loans:settlement_import")
    assert client.get(url).status_code == 200
    preview = client.post(url, {"file": csv_file([row(loan)])})
    assert preview.status_code == 200
    token = preview.context["token"]
    assert token and Settlement.objects.count() == 0
    done = client.post(reverse("loans:settlement_import_commit"), {"token": token})
    assert done.status_code == 302
    assert Settlement.objects.count() == 1


def test_import_page_shows_row_errors(world, loan, client_as):
    client = client_as(world.officer)
    page = client.post(reverse("loans:settlement_import"), {"file": csv_file([row(loan, principal="-5")])})
    assert page.context["token"] is None
    assert "本金" in page.content.decode()


def test_pages_forbidden_to_cadres(world, loan, client_as):
    client = client_as(world.cadre)
    assert client.get(reverse("loans:settlement_import")).status_code == 403
    assert client.get(reverse("loans:settlement_manual", args=[loan.pk])).status_code == 403


def test_manual_page(world, loan, client_as):
    client = client_as(world.officer)
    url = reverse("loans:settlement_manual", args=[loan.pk])
    data = {
        "period_start": "2024-01-10",
        "period_end": "2024-03-20",
        "principal": "30000",
        "rate": "4.35",
        "interest_due": "253.75",
        "interest_paid": "0",
        "penalty_paid": "0",
        "paid_on": "",
        "reason": "",
    }
    assert client.post(url, data).status_code == 400
    assert client.post(url, {**data, "reason": "补录"}).status_code == 302
    assert loan.settlements.get().reason == "补录"
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    assert client.get(reverse("loans:settlement_manual", args=[elsewhere.pk])).status_code == 404
