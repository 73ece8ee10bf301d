"""The existing-loan import (存量贷款): every rule with the input that breaks it, all or nothing,
idempotence by contract number, scope and the API."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from accounts.models import Role
from core.models import AuditEvent
from loans.models import Loan
from loans.services import import_rows
from loans.services.imports import LoanImportRejected, import_loans, parse_loans, term_months
from tests.factories import (
    HouseholdFactory,
    MemberFactory,
    PolicyProfileFactory,
    UserFactory,
    unique_id_number,
)

HEADER = [
    "户编号",
    "借款人身份证号",
    "借款合同编号",
    "借据号",
    "贷款金额",
    "年利率(%)",
    "利率基准",
    "发放日期",
    "到期日期",
    "贷款余额",
    "使用方式",
    "合作主体",
    "贷款用途",
]


def row(household=None, *, id_number="", **over):
    values = {
        "户编号": household.registration_no if household is not None else "",
        "借款人身份证号": id_number,
        "借款合同编号": "HT-001",
        "借据号": "JJ-001",
        "贷款金额": "50000",
        "年利率(%)": "4.35",
        "利率基准": "基准利率",
        "发放日期": "2020-03-15",
        "到期日期": "2023-03-15",
        "贷款余额": "30000",
        "使用方式": "户借户用户还",
        "合作主体": "",
        "贷款用途": "养殖",
    }
    values.update(over)
    return [values[h] for h in HEADER]


def csv_file(rows, *, encoding="utf-8-sig", name="loans.csv"):
    lines = [",".join(HEADER)] + [",".join(str(c) for c in r) for r in rows]
    return SimpleUploadedFile(name, ("\r\n".join(lines) + "\r\n").encode(encoding), content_type="text/csv")


def xlsx_file(rows, name="loans.xlsx"):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def refused(user, file):
    before = Loan.objects.count()
    with pytest.raises(LoanImportRejected) as exc:
        import_loans(acting_user=user, file=file, filename=file.name)
    assert Loan.objects.count() == before
    return exc.value.preview.errors


def messages(errors):
    return [(e.row, e.column, e.message) for e in errors]


@pytest.fixture
def household2(world):
    return HouseholdFactory(village=world.v1b)


def test_good_csv_creates_imported_loans_with_branch_term_and_audit(world, household, household2):
    spouse = MemberFactory(household=household2, name="李四")
    file = csv_file(
        [
            row(household),
            row(
                None,
                id_number=spouse.id_number,
                **{"借款合同编号": "HT-002", "借据号": "JJ-002", "贷款余额": "0", "发放日期": "2019/09/01"},
            ),
        ]
    )
    assert import_loans(acting_user=world.officer, file=file, filename="loans.csv") == 2
    first = Loan.objects.get(contract_no="HT-001")
    assert first.imported and first.state == Loan.State.ACTIVE
    assert first.borrower == household.members.get(is_head=True)
    assert first.branch == world.br1
    assert first.term_months == 36
    assert first.outstanding == Decimal("30000.00") and first.rate == Decimal("4.35")
    assert first.rate_basis == "benchmark" and first.purpose_category == "breeding"
    second = Loan.objects.get(contract_no="HT-002")
    assert second.borrower == spouse and second.household == household2
    assert second.state == Loan.State.SETTLED and second.settled_on == datetime.date(2023, 3, 15)
    assert second.term_months == 43  # 2019-09-01 → 2023-03-15: 42 months and 14 days
    event = AuditEvent.objects.get(action="loan.import")
    assert event.data["count"] == 2 and event.actor == world.officer


def test_gbk_csv_and_english_headers(world, household):
    file = csv_file([row(household)], encoding="gbk")
    assert import_loans(acting_user=world.officer, file=file, filename="loans.csv") == 1
    english = ",".join(
        [
            "registration_no",
            "contract_no",
            "receipt_no",
            "amount",
            "rate",
            "disbursed_on",
            "maturity_on",
            "outstanding",
            "use_mode",
        ]
    )
    data = f"{english}\n{household.registration_no},HT-9,JJ-9,10000,4.75,2021-01-05,2022-01-05,10000,self\n"
    file = SimpleUploadedFile("en.csv", data.encode())
    assert import_loans(acting_user=world.officer, file=file, filename="en.csv") == 1
    loan = Loan.objects.get(contract_no="HT-9")
    assert loan.rate_basis == "lpr" and loan.term_months == 12 and loan.purpose_category == ""


def test_good_xlsx_with_excel_dates(world, household):
    r = row(household)
    r[HEADER.index("发放日期")] = datetime.datetime(2021, 6, 1)
    r[HEADER.index("到期日期")] = 45078.0  # 2023-06-01 as a General cell's serial number
    r[HEADER.index("贷款金额")] = 20000
    r[HEADER.index("贷款余额")] = 0
    assert import_loans(acting_user=world.officer, file=xlsx_file([r]), filename="loans.xlsx") == 1
    loan = Loan.objects.get()
    assert loan.maturity_on == datetime.date(2023, 6, 1) and loan.state == Loan.State.SETTLED
    assert loan.term_months == 24


@pytest.mark.parametrize(
    "over, column, code",
    [
        ({"贷款金额": "0"}, "贷款金额", "invalid_amount"),
        ({"贷款金额": "abc"}, "贷款金额", "invalid_amount"),
        ({"贷款余额": "-1"}, "贷款余额", "invalid_amount"),
        ({"贷款余额": "60000"}, "贷款余额", "invalid_amount"),
        ({"到期日期": "2020-03-15"}, "到期日期", "invalid_dates"),
        ({"到期日期": "2020-02-30"}, "到期日期", "invalid_date"),
        ({"年利率(%)": "0"}, "年利率(%)", "invalid_rate"),
        ({"年利率(%)": "36"}, "年利率(%)", "invalid_rate"),
        ({"利率基准": "浮动"}, "利率基准", "invalid_choice"),
        ({"使用方式": "入股分红"}, "使用方式", "invalid_choice"),
        ({"使用方式": "户贷企用"}, "合作主体", "required"),
        ({"贷款用途": "盖房子"}, "贷款用途", "invalid_choice"),
        ({"借款合同编号": ""}, "借款合同编号", "required"),
        ({"户编号": "NOPE-1"}, "户编号", "unknown_household"),
    ],
)
@pytest.mark.django_db
def test_each_bad_row_is_refused_and_nothing_written(world, household, over, column, code):
    good = row(household, **{"借款合同编号": "HT-OK", "借据号": "JJ-OK"})
    bad = row(household, **{"借据号": "JJ-BAD", **over})
    errors = refused(world.officer, csv_file([good, bad]))
    assert any(e.row == 3 and e.column == column and e.code == code for e in errors), messages(errors)
    assert all(e.row == 3 for e in errors), messages(errors)


def test_neither_household_nor_borrower(world, household):
    errors = refused(world.officer, csv_file([row(None)]))
    assert messages(errors)[0][:2] == (2, "户编号")


def test_unknown_borrower_and_borrower_of_another_household(world, household, household2):
    stranger = MemberFactory(household=household2)
    unknown = unique_id_number()
    wrong_check = unknown[:17] + ("0" if unknown[17] != "0" else "1")
    errors = refused(
        world.officer,
        csv_file(
            [
                row(None, id_number=unknown),
                row(household, id_number=stranger.id_number, **{"借款合同编号": "HT-2", "借据号": "JJ-2"}),
                row(None, id_number=wrong_check, **{"借款合同编号": "HT-3", "借据号": "JJ-3"}),
            ]
        ),
    )
    by_row = {e.row: e for e in errors}
    assert by_row[2].code == "unknown_borrower"
    assert by_row[3].code == "not_a_member"
    assert by_row[4].column == "借款人身份证号"  # a wrong check digit


def test_numeric_id_cell_is_reported(world, household):
    head = household.members.get(is_head=True)
    r = row(None)
    r[HEADER.index("借款人身份证号")] = float(head.id_number[:17])
    errors = refused(world.officer, xlsx_file([r]))
    assert errors[0].column == "借款人身份证号" and errors[0].code == "id_not_text"


def test_scientific_id_text_in_csv_is_reported(world, household):
    errors = refused(world.officer, csv_file([row(None, id_number="4.50322E+17")]))
    assert errors[0].code == "id_not_text"


def test_duplicates_in_file(world, household):
    errors = refused(world.officer, csv_file([row(household), row(household, **{"借据号": "JJ-X"})]))
    assert [(e.row, e.column, e.code) for e in errors] == [(3, "借款合同编号", "duplicate_in_file")]


def test_same_file_twice_is_refused_row_by_row(world, household):
    rows = [row(household), row(household, **{"借款合同编号": "HT-2", "借据号": "JJ-2"})]
    assert import_loans(acting_user=world.officer, file=csv_file(rows), filename="a.csv") == 2
    errors = refused(world.officer, csv_file(rows))
    assert {(e.row, e.column) for e in errors} == {
        (2, "借款合同编号"),
        (2, "借据号"),
        (3, "借款合同编号"),
        (3, "借据号"),
    }
    assert Loan.objects.count() == 2


def test_scope_officer_of_br2_cannot_import_t1_households(world, household):
    officer2 = UserFactory(username="officer2", unit=world.br2, roles=[Role.LOAN_OFFICER])
    errors = refused(officer2, csv_file([row(household)]))
    # Outside the officer's area reads exactly like not registered (#10; tests/security/test_import_leaks.py).
    assert errors[0].code == "unknown_household"


def test_admin_may_import_and_gets_the_serving_branch(world, household):
    assert import_loans(acting_user=world.admin, file=csv_file([row(household)]), filename="x.csv") == 1
    assert Loan.objects.get().branch == world.br1


def test_others_may_not_import(world, household):
    from core.exceptions import NotPermitted

    for user in (world.cadre, world.approver, world.finance):
        with pytest.raises(NotPermitted):
            parse_loans(csv_file([row(household)]), "x.csv", user=user)


def test_missing_column_and_unreadable_file(world):
    data = "借款合同编号,借据号,贷款金额\nHT,JJ,1\n"
    preview = parse_loans(SimpleUploadedFile("x.csv", data.encode()), "x.csv", user=world.officer)
    assert {e.column for e in preview.errors} >= {"户编号", "发放日期", "贷款余额"}
    preview = parse_loans(SimpleUploadedFile("x.xlsx", b"not a zip"), "x.xlsx", user=world.officer)
    assert preview.errors[0].code == "bad_file"


def test_term_months_rounds_up():
    assert term_months(datetime.date(2020, 1, 31), datetime.date(2021, 1, 31)) == 12
    assert term_months(datetime.date(2020, 1, 31), datetime.date(2021, 2, 1)) == 13
    assert term_months(datetime.date(2020, 1, 1), datetime.date(2020, 1, 20)) == 1


def test_template_is_readable_by_the_import(world):
    data = import_rows.import_template()
    preview = parse_loans(SimpleUploadedFile("t.xlsx", data), "t.xlsx", user=world.officer)
    assert preview.errors[0].code == "empty"


# ---------------------------------------------------------------------------------------------
# The county's policy on the disbursement date: rate basis, entrusted cutoff, rate check


def test_a_blank_rate_basis_follows_the_contract_date(world, household):
    """The default profile prices on the LPR by contract date (DOMAIN §5): a loan signed on
    2019-08-19 is on the benchmark, one signed on 2019-08-20 on the LPR."""
    blank = {"利率基准": "", "到期日期": "2022-08-20"}
    rows = [
        row(household, **blank, **{"借款合同编号": "HT-19", "借据号": "JJ-19", "发放日期": "2019-08-19"}),
        row(household, **blank, **{"借款合同编号": "HT-20", "借据号": "JJ-20", "发放日期": "2019-08-20"}),
    ]
    assert import_loans(acting_user=world.officer, file=csv_file(rows), filename="x.csv") == 2
    assert Loan.objects.get(contract_no="HT-19").rate_basis == "benchmark"
    assert Loan.objects.get(contract_no="HT-20").rate_basis == "lpr"


def test_a_blank_rate_basis_follows_the_profile_in_force_on_the_disbursement_date(world, household):
    # From 2021 the county prices on the benchmark whatever the date; before, the default (LPR).
    PolicyProfileFactory(
        county=world.county, effective_from=datetime.date(2021, 1, 1), rate_basis="benchmark"
    )
    blank = {"利率基准": ""}
    rows = [
        row(household, **blank, **{"借款合同编号": "HT-A", "借据号": "JJ-A", "发放日期": "2020-12-31"}),
        row(household, **blank, **{"借款合同编号": "HT-B", "借据号": "JJ-B", "发放日期": "2021-01-04"}),
    ]
    assert import_loans(acting_user=world.officer, file=csv_file(rows), filename="x.csv") == 2
    assert Loan.objects.get(contract_no="HT-A").rate_basis == "lpr"
    assert Loan.objects.get(contract_no="HT-B").rate_basis == "benchmark"


def test_a_loan_older_than_the_countys_first_profile_is_judged_by_the_profile_of_the_import(world, household):
    """Only a county's first profile may be back-dated, and a county may start on the system long
    after its oldest loans: those are judged by the profile in force on the day of the import
    (DOMAIN §10), here the LPR basis, which prices a 2014 contract on the benchmark."""
    assert world.profile.effective_from > datetime.date(2014, 12, 31)
    rows = [row(household, **{"利率基准": "", "发放日期": "2014-12-31", "到期日期": "2017-12-31"})]
    assert import_loans(acting_user=world.officer, file=csv_file(rows), filename="x.csv") == 1
    assert Loan.objects.get().rate_basis == "benchmark"


@pytest.mark.parametrize(
    ("disbursed_on", "maturity_on"), [("2018-01-01", "2021-01-01"), ("2017-12-08", "2020-12-08")]
)
def test_an_entrusted_loan_after_the_cutoff_is_refused(world, household, disbursed_on, maturity_on):
    entrusted = {"使用方式": "户贷企用", "合作主体": "青山生态养殖专业合作社"}
    file = csv_file([row(household, **entrusted, **{"发放日期": disbursed_on, "到期日期": maturity_on})])
    errors = refused(world.officer, file)
    assert [(e.row, e.column, e.code) for e in errors] == [(2, "使用方式", "entrusted_after_cutoff")]
    assert "2017-12-07" in errors[0].message and "P1 art.28; P2 §4(4)" in errors[0].message


@pytest.mark.parametrize(
    ("disbursed_on", "maturity_on"), [("2017-06-15", "2020-06-15"), ("2017-12-07", "2020-12-07")]
)
def test_an_entrusted_loan_on_or_before_the_cutoff_imports(world, household, disbursed_on, maturity_on):
    entrusted = {"使用方式": "户贷企用", "合作主体": "青山生态养殖专业合作社", "年利率(%)": "4.75"}
    file = csv_file([row(household, **entrusted, **{"发放日期": disbursed_on, "到期日期": maturity_on})])
    assert import_loans(acting_user=world.officer, file=file, filename="x.csv") == 1
    loan = Loan.objects.get()
    assert (loan.use_mode, loan.entity_name) == ("entrusted", "青山生态养殖专业合作社")


def test_a_rate_not_the_tables_is_a_warning_and_imports_at_the_banks_rate(world, household):
    rows = [
        # 36 months signed 2020-03-15 on the LPR: the 5-year LPR of 2020-02-20 is 4.75; the bank
        # wrote 4.35 (the 1-year benchmark). Warned, imported as the contract says.
        row(household, **{"利率基准": "", "年利率(%)": "4.35"}),
        # The same contract terms at 4.75: no warning.
        row(household, **{"利率基准": "", "年利率(%)": "4.75", "借款合同编号": "HT-2", "借据号": "JJ-2"}),
        # 12 months signed 2021-01-05: the 1-year LPR of 2020-04-20, 3.85; 3.8501 is 0.0001 off,
        # within the tolerance.
        row(
            household,
            **{
                "利率基准": "",
                "年利率(%)": "3.8501",
                "发放日期": "2021-01-05",
                "到期日期": "2022-01-05",
                "借款合同编号": "HT-3",
                "借据号": "JJ-3",
            },
        ),
    ]
    preview = parse_loans(csv_file(rows), "x.csv", user=world.officer)
    assert preview.errors == []
    assert [(w.row, w.column, w.code) for w in preview.warnings] == [(2, "年利率(%)", "rate_differs")]
    message = preview.warnings[0].message
    assert "4.35" in message and "4.75" in message and "2020-02-20" in message
    assert import_loans(acting_user=world.officer, file=csv_file(rows), filename="x.csv") == 3
    assert Loan.objects.get(contract_no="HT-001").rate == Decimal("4.35")
    event = AuditEvent.objects.get(action="loan.import")
    assert [w["row"] for w in event.data["warnings"]] == [2]


def test_an_explicit_basis_is_kept_and_checked_against_its_table(world, household):
    # The bank says benchmark for a 2020 loan: kept; 4.75 is the 1-to-5-year benchmark, no warning.
    file = csv_file([row(household, **{"利率基准": "基准利率", "年利率(%)": "4.75"})])
    preview = parse_loans(file, "x.csv", user=world.officer)
    assert preview.errors == [] and preview.warnings == []
    assert import_loans(acting_user=world.officer, file=file, filename="x.csv") == 1
    assert Loan.objects.get().rate_basis == "benchmark"


def test_the_preview_page_and_the_dry_run_show_the_rate_warning(world, household, client_as, api_as):
    from django.urls import reverse

    file = csv_file([row(household, **{"利率基准": "", "年利率(%)": "4.35"})])
    page = client_as(world.officer).post(reverse("loans:book_import"), {"file": file})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="import-warnings"' in html
    assert page.context["token"]  # a warning does not stop the import

    file = csv_file([row(household, **{"利率基准": "", "年利率(%)": "4.35"})])
    answer = api_as(world.officer).post("/api/v1/loan-imports/?dry_run=1", {"file": file}, format="multipart")
    assert answer.status_code == 200
    assert [(w["row"], w["column"]) for w in answer.json()["warnings"]] == [(2, "年利率(%)")]


# ---------------------------------------------------------------------------------------------
# API


def test_api_201_and_dry_run(world, household, api_as):
    client = api_as(world.officer)
    answer = client.post(
        "/api/v1/loan-imports/?dry_run=1", {"file": csv_file([row(household)])}, format="multipart"
    )
    assert answer.status_code == 200 and answer.json()["loans"] == 1
    assert Loan.objects.count() == 0
    answer = client.post("/api/v1/loan-imports/", {"file": csv_file([row(household)])}, format="multipart")
    assert answer.status_code == 201 and answer.json() == {"created": 1}


def test_api_400_rows_and_nothing_written(world, household, api_as):
    bad = csv_file(
        [row(household), row(household, **{"借款合同编号": "HT-2", "借据号": "JJ-2", "贷款金额": "0"})]
    )
    answer = api_as(world.officer).post("/api/v1/loan-imports/", {"file": bad}, format="multipart")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid"
    assert body["extra"]["rows"][0] == {
        "row": 3,
        "column": "贷款金额",
        "message": body["extra"]["rows"][0]["message"],
    }
    assert Loan.objects.count() == 0


def test_api_403_for_a_cadre(world, household, api_as):
    answer = api_as(world.cadre).post(
        "/api/v1/loan-imports/", {"file": csv_file([row(household)])}, format="multipart"
    )
    assert answer.status_code == 403
    assert Loan.objects.count() == 0
