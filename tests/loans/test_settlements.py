"""The bank's settlement list (结息清单) and settlements entered by hand: every bad row reported,
all or nothing, the same rows twice change nothing, a contradiction is reported and not
overwritten, an unpaid period that arrives paid is the one update allowed. Periods (DOMAIN §5,
§6): the list says whether its end date is counted, a loan's periods never overlap (whatever the
convention), and interest that is not principal × rate × days ÷ 360 waits for a confirmation."""

import csv
import datetime
import io
from decimal import Decimal

import factory
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from loans.models import Loan, Settlement
from loans.services import settlement_list, settlements
from tests.factories import HouseholdFactory, LoanFactory, SettlementFactory

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


def make_loan(household, world, **fields) -> Loan:
    """A loan straight in the book (LoanFactory), with every date chosen by the test: 30,000 for
    24 months from 2024-01-10 at the first branch, entered (not imported)."""
    values = dict(
        branch=world.br1,
        contract_no=factory.Sequence(lambda n: f"SV-{n:06d}"),
        receipt_no=factory.Sequence(lambda n: f"SVR-{n:06d}"),
        term_months=24,
        disbursed_on=D(2024, 1, 10),
        maturity_on=D(2026, 1, 10),
        purpose_category="breeding",
        imported=False,
    )
    return LoanFactory(household=household, **{**values, **fields})


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


def run(world, file, *, end_date_counted=False):
    return settlement_list.settlement_import(
        acting_user=world.officer, file=file, filename=file.name, end_date_counted=end_date_counted
    )


def codes(rejected):
    return [(x.row, x.code) for x in rejected.value.result.errors]


def test_import_creates_settlements(world, loan):
    result = run(
        world, csv_file([row(loan), row(loan, "2024-03-20", "2024-06-20", "333.50", "333.50", "2024-06-20")])
    )
    assert result.counts() == {"created": 2, "updated_paid_late": 0, "unchanged": 0, "needs_review": 0}
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
    assert again.counts() == {"created": 0, "updated_paid_late": 0, "unchanged": 2, "needs_review": 0}
    assert loan.settlements.count() == 2


def test_chinese_headers_in_xlsx_and_gbk_csv(world, loan):
    assert run(world, xlsx_file([row(loan)])).created == 1
    other = make_loan(loan.household, world)
    assert run(world, csv_file([row(other)], headers=ZH, encoding="gb18030")).created == 1


def test_contradiction_is_reported_and_not_overwritten(world, loan):
    run(world, csv_file([row(loan)]))
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, due="260.00", paid="260.00")]))
    (error,) = e.value.result.errors
    assert (error.row, error.code) == (2, "contradiction")
    assert "应付利息" in error.message and "实付利息" in error.message
    assert loan.settlements.get().interest_due == Decimal("253.75")


def test_unpaid_then_paid_late_is_updated_with_audit(world, loan):
    run(world, csv_file([row(loan, paid="0", paid_on="")]))
    assert loan.settlements.get().paid_on is None
    result = run(world, csv_file([row(loan, paid="253.75", paid_on="2024-04-15", penalty_paid="1.20")]))
    assert result.counts() == {"created": 0, "updated_paid_late": 1, "unchanged": 0, "needs_review": 0}
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
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, paid="0", paid_on="")]))
    assert codes(e) == [(2, "contradiction")]


def test_all_or_nothing_with_one_bad_row(world, loan):
    rows = [
        row(loan),
        row(loan, "2024-03-20", "2024-06-20", "333.50", "0", ""),
        {**row(loan), "contract_no": "NO-SUCH"},
    ]
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
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
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, **change)]))
    assert [(x.row, x.column, x.code) for x in e.value.result.errors] == [(2, column, code)]


def test_one_fen_tolerance(world, loan):
    assert run(world, csv_file([row(loan, paid="253.76")])).created == 1


def test_same_period_twice_in_one_file(world, loan):
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan), row(loan)]))
    assert [(x.row, x.code) for x in e.value.result.errors] == [(3, "duplicate_row")]


def test_loan_outside_the_users_area_is_unknown(world):
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(elsewhere)]))
    assert e.value.result.errors[0].code == "unknown_contract"


def test_only_officers_and_admins_import(world, loan):
    with pytest.raises(NotPermitted) as e:
        settlement_list.settlement_import(
            acting_user=world.cadre, file=csv_file([row(loan)]), filename="x.csv", end_date_counted=False
        )
    assert e.value.code == "permission_denied"
    assert settlement_list.settlement_import(
        acting_user=world.admin, file=csv_file([row(loan)]), filename="x.csv", end_date_counted=False
    ).created


def test_missing_column_and_unreadable_file(world, loan):
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan)], headers=EN[:4] + ["x"] + EN[5:]))
    assert [(x.column, x.code) for x in e.value.result.errors] == [("年利率", "missing_column")]
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
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
    return settlements.settlement_record_manual(acting_user=world.officer, loan=loan, **values)


def test_manual_entry_needs_a_reason(world, loan):
    with pytest.raises(ApplicationError) as e:
        manual(world, loan, reason="  ")
    assert (e.value.code, e.value.field) == ("invalid", "reason")
    s = manual(world, loan)
    assert (s.source, s.reason, s.needs_review) == (
        Settlement.Source.MANUAL,
        "银行清单漏报，按回单补录",
        False,
    )
    assert AuditEvent.objects.filter(action="settlement.manual", object_id=str(s.pk)).exists()
    with pytest.raises(ConflictError) as e:
        manual(world, loan)
    assert e.value.code == "duplicate_period"
    # The same figures in a later list count as already imported.
    assert run(world, csv_file([row(loan, paid_on="2024-03-21")])).unchanged == 1


def test_manual_entry_checks_amounts(world, loan):
    with pytest.raises(ApplicationError) as e:
        manual(world, loan, interest_paid=Decimal("300"))
    assert (e.value.code, e.value.field) == ("overpaid", "interest_paid")
    with pytest.raises(ApplicationError) as e:
        manual(world, loan, period_end=D(2024, 1, 1))
    assert (e.value.code, e.value.field) == ("period_order", "period_end")
    with pytest.raises(NotPermitted) as e:
        settlements.settlement_record_manual(
            acting_user=world.cadre, loan=loan, period_start=D(2024, 1, 10), period_end=D(2024, 3, 20),
            principal=Decimal("1"), rate=Decimal("4.35"), interest_due=Decimal("1"), reason="x",
        )  # fmt: skip
    assert e.value.code == "permission_denied"
    assert not Settlement.objects.exists()


def test_correction_keeps_old_and_new(world, loan):
    run(world, csv_file([row(loan)]))
    s = loan.settlements.get()
    with pytest.raises(ApplicationError) as e:
        settlements.settlement_correct(
            acting_user=world.officer, settlement=s, reason="", interest_due=Decimal("260")
        )
    assert (e.value.code, e.value.field) == ("invalid", "reason")
    settlements.settlement_correct(
        acting_user=world.officer, settlement=s, reason="银行更正", interest_due=Decimal("260.00")
    )
    s.refresh_from_db()
    assert (s.interest_due, s.reason) == (Decimal("260.00"), "银行更正")
    # The correction ran the interest check again: 30,000 × 4.35% × 70 / 360 = 253.75, and 260.00
    # is 6.25 away, more than 0.05.
    assert s.needs_review is True
    event = AuditEvent.objects.get(action="settlement.correct")
    assert event.data == {
        "old": {"interest_due": "253.75", "needs_review": False},
        "new": {"interest_due": "260.00", "needs_review": True},
    }
    assert event.reason == "银行更正"


# ---- API and pages ---------------------------------------------------------------------------------


def test_api_import(world, loan, api_as):
    url = "/api/v1/settlement-imports/"
    no = {"end_date_counted": "false"}
    answer = api_as(world.officer).post(url, {"file": csv_file([row(loan)]), **no}, format="multipart")
    assert answer.status_code == 201, answer.content
    assert answer.json() == {
        "end_date_counted": False, "created": 1, "updated_paid_late": 0, "unchanged": 0, "needs_review": 0,
    }  # fmt: skip
    answer = api_as(world.officer).post(url, {"file": csv_file([row(loan)]), **no}, format="multipart")
    assert answer.json() == {
        "end_date_counted": False, "created": 0, "updated_paid_late": 0, "unchanged": 1, "needs_review": 0,
    }  # fmt: skip
    bad = api_as(world.officer).post(
        url, {"file": csv_file([row(loan, due="1.00", paid="1.00")]), **no}, format="multipart"
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "invalid"
    assert body["extra"]["rows"][0]["row"] == 2 and body["extra"]["rows"][0]["message"]
    assert body["extra"]["rows"][0]["code"] == "contradiction"
    forbidden = api_as(world.cadre).post(url, {"file": csv_file([row(loan)]), **no}, format="multipart")
    assert forbidden.status_code == 403


def test_import_page_preview_then_confirm(world, loan, client_as):
    client = client_as(world.officer)
    url = reverse("loans:settlement_import")
    assert client.get(url).status_code == 200
    preview = client.post(url, {"file": csv_file([row(loan)]), "end_date_counted": "no"})
    assert preview.status_code == 200
    token = preview.context["token"]
    assert token and Settlement.objects.count() == 0
    done = client.post(reverse("loans:settlement_import_commit"), {"token": token})
    assert done.status_code == 302
    assert Settlement.objects.count() == 1


def test_import_page_shows_row_errors(world, loan, client_as):
    client = client_as(world.officer)
    page = client.post(
        reverse("loans:settlement_import"),
        {"file": csv_file([row(loan, principal="-5")]), "end_date_counted": "no"},
    )
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


# ---- the end-date convention, overlaps and the interest check (DOMAIN §5, §6) -------------------

# A quarter of 2026: [2026-03-20, 2026-06-20) is 12 days of March (20-31) + 30 + 31 + 19 days of
# June (1-19) = 92 days; 50,000 × 4.35% × 92 / 360 = 2,175 × 92 / 360 = 555.833… → 555.83.
QUARTER_DUE = "555.83"


@pytest.fixture
def loan_2026(world, household):
    return make_loan(
        household,
        world,
        amount=Decimal("50000.00"),
        disbursed_on=D(2026, 1, 10),
        maturity_on=D(2027, 1, 10),
    )


def quarter(loan, start="2026-03-20", end="2026-06-20", due=QUARTER_DUE, **kw):
    values = dict(principal="50000.00", due=due, paid=due, paid_on="2026-06-22")
    values.update(kw)
    return row(loan, start, end, **values)


@pytest.mark.today("2026-07-01")
def test_same_quarter_from_an_inclusive_list_overlaps_and_is_refused(world, loan_2026):
    """The input that used to pass: the quarter once as [03-20, 06-20) and once from a list that
    counts its end date, 03-21..06-20, stored as [03-21, 06-21). Each had its own key, so the same
    92 days were settled (and would be subsidized) twice."""
    assert run(world, csv_file([quarter(loan_2026)])).created == 1
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([quarter(loan_2026, start="2026-03-21")]), end_date_counted=True)
    assert codes(e) == [(2, "period_overlap")]
    message = e.value.result.errors[0].message
    assert "2026-03-20" in message and "2026-06-20" in message  # the recorded period, named
    assert "2026-06-21" in message  # the period as it would have been stored
    assert loan_2026.settlements.count() == 1
    assert AuditEvent.objects.filter(action="settlement.import").count() == 1


@pytest.mark.today("2026-07-01")
def test_overlap_through_the_api_names_the_code(world, loan_2026, api_as):
    url = "/api/v1/settlement-imports/"
    client = api_as(world.officer)
    first = client.post(url, {"file": csv_file([quarter(loan_2026)]), "end_date_counted": "false"})
    assert first.status_code == 201, first.content
    second = client.post(
        url,
        {"file": csv_file([quarter(loan_2026, start="2026-03-21")]), "end_date_counted": "true"},
        format="multipart",
    )
    assert second.status_code == 400
    assert [r["code"] for r in second.json()["extra"]["rows"]] == ["period_overlap"]
    assert loan_2026.settlements.count() == 1


@pytest.mark.today("2026-07-01")
def test_inclusive_list_stores_the_day_after_the_end(world, loan_2026):
    result = run(world, csv_file([quarter(loan_2026, start="2026-03-21")]), end_date_counted=True)
    assert result.counts()["created"] == 1
    s = loan_2026.settlements.get()
    # 2026-03-21..2026-06-20 counted = 11 days of March (21-31) + 30 + 31 + 20 of June = 92 days,
    # stored as [2026-03-21, 2026-06-21).
    assert (s.period_start, s.period_end, s.days) == (D(2026, 3, 21), D(2026, 6, 21), 92)
    assert s.needs_review is False  # 555.83 is the formula's figure for 92 days
    event = AuditEvent.objects.get(action="settlement.import")
    assert event.data["end_date_counted"] is True
    # The next quarter from the same bank starts on 06-21 and does not overlap.
    following = quarter(loan_2026, start="2026-06-21", end="2026-09-20", paid="0", paid_on="")
    assert run(world, csv_file([following]), end_date_counted=True).created == 1


@pytest.mark.today("2026-07-01")
def test_an_end_date_at_the_end_of_time_is_a_row_error_not_a_crash(world, loan_2026):
    """9999-12-31 counted as an end date has no next day to store: it used to raise
    OverflowError (a 500 on the preview, the import and the API)."""
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([quarter(loan_2026, end="9999-12-31")]), end_date_counted=True)
    assert codes(e) == [(2, "invalid_date")]
    assert not loan_2026.settlements.exists()


def test_one_day_period_from_an_inclusive_list(world, loan):
    # Counted: 2024-03-20..2024-03-20 is one day, stored [03-20, 03-21); 30,000 × 4.35% / 360 = 3.625 → 3.63.
    one_day = row(loan, "2024-03-20", "2024-03-20", "3.63", "3.63", "2024-03-21")
    assert run(world, csv_file([one_day]), end_date_counted=True).created == 1
    assert loan.settlements.get().period_end == D(2024, 3, 21)


def test_zero_length_period_is_refused(world, loan):
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file([row(loan, "2024-03-20", "2024-03-20", "0", "0", "")]))
    assert [(x.row, x.column, x.code) for x in e.value.result.errors] == [(2, "计息止日", "period_empty")]
    with pytest.raises(ApplicationError) as e:
        manual(world, loan, period_start=D(2024, 3, 20), period_end=D(2024, 3, 20), interest_due=Decimal("0"),
               interest_paid=Decimal("0"), paid_on=None)  # fmt: skip
    assert (e.value.code, e.value.field) == ("period_empty", "period_end")
    assert not Settlement.objects.exists()


def test_manual_entry_overlapping_a_recorded_period_is_refused(world, loan):
    run(world, csv_file([row(loan)]))  # [2024-01-10, 2024-03-20)
    with pytest.raises(ConflictError) as e:
        # The bank's slip counted its end date: 01-11..03-20 entered as [01-11, 03-21).
        manual(world, loan, period_start=D(2024, 1, 11), period_end=D(2024, 3, 21))
    assert (e.value.code, e.value.field) == ("period_overlap", "period_start")
    assert "2024-01-10" in str(e.value.message) and "2024-03-20" in str(e.value.message)
    assert loan.settlements.count() == 1
    # The next period, starting on the day the recorded one ends, does not overlap.
    # 30,000 × 4.35% × 92 / 360 = 333.50 for [2024-03-20, 2024-06-20).
    manual(world, loan, period_start=D(2024, 3, 20), period_end=D(2024, 6, 20),
           interest_due=Decimal("333.50"), interest_paid=Decimal("0"), paid_on=None)  # fmt: skip
    assert loan.settlements.count() == 2


def test_two_overlapping_rows_in_one_file(world, loan):
    rows = [row(loan), row(loan, "2024-03-19", "2024-06-20", "337.13", "0", "")]
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file(rows))
    assert codes(e) == [(3, "period_overlap")]
    assert "2" in e.value.result.errors[0].message  # names row 2
    assert not Settlement.objects.exists()
    # Two conventions mixed in one list: a counted end (03-20) read as not counted is fine on its
    # own, but the same quarter twice in the file is refused however it is written.
    rows = [row(loan), row(loan, "2024-01-11", "2024-03-21", "253.75", "0", "")]
    with pytest.raises(settlement_list.SettlementImportRejected) as e:
        run(world, csv_file(rows))
    assert codes(e) == [(3, "period_overlap")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the exclusion constraint is PostgreSQL's")
def test_database_refuses_an_overlapping_row(world, loan):
    run(world, csv_file([row(loan)]))  # [2024-01-10, 2024-03-20)
    with pytest.raises(IntegrityError) as e, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loans_settlement (loan_id, period_start, period_end, principal, rate, interest_due,"
            " interest_paid, penalty_paid, source, source_file, reason, recorded_by_id, recorded_at,"
            " needs_review, review_note) VALUES (%s, '2024-01-11', '2024-03-21', 30000, 4.35, 253.75, 0, 0,"
            " 'manual', '', '', %s, now(), false, '')",
            [loan.pk, world.officer.pk],
        )
    assert "settlement_periods_no_overlap" in str(e.value)
    assert loan.settlements.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the exclusion constraint is PostgreSQL's")
def test_overlap_refused_by_the_database_is_a_clean_409(world, loan, api_as, monkeypatch):
    """Were the service check ever bypassed (a writer without the loan's lock), the database's
    refusal answers 409 `period_overlap`, never a 500, and nothing is written."""
    run(world, csv_file([row(loan)]))
    monkeypatch.setattr(settlement_list, "_recorded_settlements", lambda loans: Settlement.objects.none())
    overlapping = row(loan, "2024-01-11", "2024-03-21")
    with pytest.raises(ConflictError) as e:
        run(world, csv_file([overlapping]))
    assert e.value.code == "period_overlap"
    answer = api_as(world.officer).post(
        "/api/v1/settlement-imports/",
        {"file": csv_file([overlapping]), "end_date_counted": "false"},
        format="multipart",
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "period_overlap"
    assert loan.settlements.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the exclusion constraint is PostgreSQL's")
def test_overlap_refused_by_the_database_on_the_page(world, loan, client_as, monkeypatch):
    run(world, csv_file([row(loan)]))
    client = client_as(world.officer)
    overlapping = row(loan, "2024-01-11", "2024-03-21")
    monkeypatch.setattr(settlement_list, "_recorded_settlements", lambda loans: Settlement.objects.none())
    preview = client.post(
        reverse("loans:settlement_import"), {"file": csv_file([overlapping]), "end_date_counted": "no"}
    )
    done = client.post(reverse("loans:settlement_import_commit"), {"token": preview.context["token"]})
    assert done.status_code == 409
    assert done.context["conflict"]
    assert loan.settlements.count() == 1


@pytest.mark.today("2026-07-01")
def test_interest_differing_from_the_formula_is_flagged(world, loan_2026, household):
    other = make_loan(household, world, amount=Decimal("50000.00"), disbursed_on=D(2026, 1, 10),
                      maturity_on=D(2027, 1, 10))  # fmt: skip
    # Expected 555.83 (see QUARTER_DUE): 560.00 is 4.17 away (flagged), 555.85 is 0.02 (within 0.05).
    rows = [quarter(loan_2026, due="560.00"), quarter(other, due="555.85")]
    preview = settlement_list.settlement_import_check(
        user=world.officer, file=csv_file(rows), filename="x.csv", end_date_counted=False
    )
    assert [(r.number, r.needs_review, r.expected_interest) for r in preview.rows] == [
        (2, True, Decimal("555.83")),
        (3, False, None),
    ]
    assert preview.ok  # flagged rows are warnings, not errors
    result = run(world, csv_file(rows))
    assert result.counts() == {"created": 2, "updated_paid_late": 0, "unchanged": 0, "needs_review": 1}
    flagged = loan_2026.settlements.get()
    assert (flagged.needs_review, flagged.reviewed_by, flagged.reviewed_at) == (True, None, None)
    assert other.settlements.get().needs_review is False
    # The same list again is "already imported" and keeps the flag.
    assert run(world, csv_file(rows)).counts()["unchanged"] == 2
    assert loan_2026.settlements.get().needs_review is True


@pytest.mark.today("2026-07-01")
def test_manual_entry_is_flagged_too(world, loan_2026):
    s = manual(world, loan_2026, period_start=D(2026, 3, 20), period_end=D(2026, 6, 20),
               principal=Decimal("50000"), interest_due=Decimal("560.00"), interest_paid=Decimal("560.00"),
               paid_on=D(2026, 6, 22))  # fmt: skip
    assert s.needs_review is True
    assert AuditEvent.objects.get(action="settlement.manual").data["needs_review"] is True


@pytest.mark.today("2026-07-01")
def test_confirm_clears_the_flag_with_audit(world, loan_2026):
    run(world, csv_file([quarter(loan_2026, due="560.00")]))
    s = loan_2026.settlements.get()
    with pytest.raises(ApplicationError) as e:
        settlements.settlement_confirm(acting_user=world.officer, settlement=s, reason=" ")
    assert (e.value.code, e.value.field) == ("invalid", "reason")
    settlements.settlement_confirm(acting_user=world.officer, settlement=s, reason="与银行结息回单核对无误")
    s.refresh_from_db()
    assert (s.needs_review, s.reviewed_by, s.review_note) == (False, world.officer, "与银行结息回单核对无误")
    assert s.reviewed_at.date() == D(2026, 7, 1)
    event = AuditEvent.objects.get(action="settlement.confirm", object_id=str(s.pk))
    assert (event.actor, event.reason) == (world.officer, "与银行结息回单核对无误")
    assert event.data["old"] == {
        "needs_review": True,
        "review_note": "",
        "reviewed_by": None,
        "reviewed_at": None,
    }
    assert event.data["new"]["needs_review"] is False
    assert event.data["new"]["reviewed_by"] == world.officer.pk
    assert (event.data["interest_due"], event.data["expected_interest"], event.data["days"]) == (
        "560.00", "555.83", 92,
    )  # fmt: skip
    with pytest.raises(ConflictError) as e:
        settlements.settlement_confirm(acting_user=world.officer, settlement=s, reason="再次确认")
    assert e.value.code == "not_flagged"


@pytest.mark.today("2026-07-01")
def test_a_non_servicer_cannot_confirm(world, loan_2026):
    run(world, csv_file([quarter(loan_2026, due="560.00")]))
    s = loan_2026.settlements.get()
    for user in (world.cadre, world.finance, world.approver):
        with pytest.raises(NotPermitted) as e:
            settlements.settlement_confirm(acting_user=user, settlement=s, reason="确认")
        assert e.value.code == "permission_denied"
    s.refresh_from_db()
    assert s.needs_review is True
    assert not AuditEvent.objects.filter(action="settlement.confirm").exists()


@pytest.mark.today("2026-07-01")
def test_correction_runs_the_check_again(world, loan_2026):
    run(world, csv_file([quarter(loan_2026, due="560.00")]))
    s = loan_2026.settlements.get()
    settlements.settlement_confirm(acting_user=world.officer, settlement=s, reason="核对无误")
    # A correction of the payment date leaves the checked figures, and the confirmation, alone.
    settlements.settlement_correct(acting_user=world.officer, settlement=s, reason="付息日更正",
                                 paid_on=D(2026, 6, 23))  # fmt: skip
    s.refresh_from_db()
    assert (s.needs_review, s.reviewed_by) == (False, world.officer)
    # New interest figures void the confirmation given for the old ones: 561.00 is flagged again.
    settlements.settlement_correct(acting_user=world.officer, settlement=s, reason="银行更正",
                                 interest_due=Decimal("561.00"), interest_paid=Decimal("561.00"))  # fmt: skip
    s.refresh_from_db()
    assert (s.needs_review, s.reviewed_by, s.reviewed_at, s.review_note) == (True, None, None, "")
    # Corrected to the formula's 555.83, the flag clears by itself.
    settlements.settlement_correct(acting_user=world.officer, settlement=s, reason="按合同重算",
                                 interest_due=Decimal("555.83"), interest_paid=Decimal("555.83"))  # fmt: skip
    s.refresh_from_db()
    assert s.needs_review is False


@pytest.mark.today("2026-07-01")
def test_confirm_api(world, loan_2026, household, api_as):
    run(world, csv_file([quarter(loan_2026, due="560.00")]))
    s = loan_2026.settlements.get()
    url = f"/api/v1/settlements/{s.pk}/confirm/"
    assert api_as(world.cadre).post(url, {"reason": "确认"}, format="json").status_code == 403
    missing = api_as(world.officer).post(url, {}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid")
    answer = api_as(world.officer).post(url, {"reason": "与回单核对无误"}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["needs_review"], body["review_note"], body["reviewed_by"]) == (
        False, "与回单核对无误", world.officer.pk,
    )  # fmt: skip
    assert (body["interest_due"], body["expected_interest"]) == ("560.00", "555.83")
    again = api_as(world.officer).post(url, {"reason": "再次"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "not_flagged")
    # A loan in the other branch's township is outside the officer's area: 404, not 403.
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    hidden = SettlementFactory(
        loan=elsewhere, period_start=D(2024, 1, 10), period_end=D(2024, 3, 20),
        interest_due=Decimal("300.00"), paid_on=None, recorded_by=world.admin, needs_review=True,
    )  # fmt: skip
    outside = api_as(world.officer).post(f"/api/v1/settlements/{hidden.pk}/confirm/", {"reason": "x"})
    assert (outside.status_code, outside.json()["code"]) == (404, "not_found")
    hidden.refresh_from_db()
    assert hidden.needs_review is True


def test_api_import_requires_the_end_date_convention(world, loan, api_as):
    answer = api_as(world.officer).post(
        "/api/v1/settlement-imports/", {"file": csv_file([row(loan)])}, format="multipart"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert "end_date_counted" in answer.json()["extra"]["fields"]
    assert not Settlement.objects.exists()
    counted = api_as(world.officer).post(
        "/api/v1/settlement-imports/",
        {"file": csv_file([row(loan, end="2024-03-19")]), "end_date_counted": "true"},
        format="multipart",
    )
    assert counted.status_code == 201, counted.content
    assert counted.json()["end_date_counted"] is True
    assert loan.settlements.get().period_end == D(2024, 3, 20)


# ---- pages for the convention and the review ------------------------------------------------------


def test_import_page_requires_the_convention_and_shows_it(world, loan, client_as):
    client = client_as(world.officer)
    url = reverse("loans:settlement_import")
    page = client.get(url)
    html = page.content.decode()
    assert "算头不算尾" in html and "算头算尾" in html and "2026-03-21" in html
    refused = client.post(url, {"file": csv_file([row(loan)])})
    assert refused.status_code == 400
    assert "end_date_counted" in refused.context["form"].errors
    # Counted: 01-10..03-19 is stored as [01-10, 03-20).
    preview = client.post(url, {"file": csv_file([row(loan, end="2024-03-19")]), "end_date_counted": "yes"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "算头算尾" in html and "2024-03-19" in html and "2024-03-20" in html
    done = client.post(reverse("loans:settlement_import_commit"), {"token": preview.context["token"]})
    assert done.status_code == 302
    assert loan.settlements.get().period_end == D(2024, 3, 20)
    assert AuditEvent.objects.get(action="settlement.import").data["end_date_counted"] is True


@pytest.mark.today("2026-07-01")
def test_preview_shows_flagged_rows_in_bounded_queries(world, household, client_as):
    client = client_as(world.officer)
    url = reverse("loans:settlement_import")

    def preview(n):
        loans = [
            make_loan(
                household,
                world,
                amount=Decimal("50000.00"),
                disbursed_on=D(2026, 1, 10),
                maturity_on=D(2027, 1, 10),
            )  # fmt: skip
            for _ in range(n)
        ]
        rows = [quarter(x, due="560.00") for x in loans]
        with CaptureQueriesContext(connection) as queries:
            page = client.post(url, {"file": csv_file(rows), "end_date_counted": "no"})
        assert page.status_code == 200
        return page, len(queries)

    one, few = preview(1)
    many, more = preview(12)
    assert few == more
    html = many.content.decode()
    assert "555.83" in html and "560.00" in html
    assert len(many.context["flagged"]) == 12 and many.context["result"].needs_review == 12


def test_template_states_the_convention(world, client_as):
    answer = client_as(world.officer).get(reverse("loans:settlement_import_template"))
    assert answer.status_code == 200
    wb = load_workbook(io.BytesIO(answer.content))
    assert [c.value for c in wb["结息清单"][1]] == ZH
    # The contract column is text where people type, not only on the header row.
    sheet = wb["结息清单"]
    assert [sheet.cell(row=r, column=1).number_format for r in (2, 500, 1000)] == ["@", "@", "@"]
    notes = " ".join(str(c.value) for r in wb["填写说明"].iter_rows() for c in r if c.value)
    assert "算头不算尾" in notes and "算头算尾" in notes and "2026-06-21" in notes and "0.05" in notes
    assert client_as(world.cadre).get(reverse("loans:settlement_import_template")).status_code == 403


def test_manual_page_states_the_convention(world, loan, client_as):
    html = client_as(world.officer).get(reverse("loans:settlement_manual", args=[loan.pk])).content.decode()
    assert "算头不算尾" in html


@pytest.mark.today("2026-07-01")
def test_loan_page_shows_the_flag_and_the_confirmation(world, loan_2026, client_as):
    run(world, csv_file([quarter(loan_2026, due="560.00")]))
    s = loan_2026.settlements.get()
    confirm_url = reverse("loans:settlement_confirm", args=[s.pk])
    client = client_as(world.officer)
    detail = client.get(reverse("loans:book_detail", args=[loan_2026.pk])).content.decode()
    assert confirm_url in detail and "555.83" in detail
    assert client.post(confirm_url, {"reason": ""}).status_code == 400
    assert client.post(confirm_url, {"reason": "与回单核对无误"}).status_code == 302
    s.refresh_from_db()
    assert (s.needs_review, s.reviewed_by) == (False, world.officer)
    detail = client.get(reverse("loans:book_detail", args=[loan_2026.pk])).content.decode()
    assert confirm_url not in detail and "与回单核对无误" in detail
    assert client_as(world.cadre).get(confirm_url).status_code == 403
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    hidden = SettlementFactory(
        loan=elsewhere, period_start=D(2024, 1, 10), period_end=D(2024, 3, 20),
        interest_due=Decimal("300.00"), paid_on=None, recorded_by=world.admin, needs_review=True,
    )  # fmt: skip
    officer = client_as(world.officer)
    assert officer.get(reverse("loans:settlement_confirm", args=[hidden.pk])).status_code == 404
