"""Issue 14: the loan imports' downloadable templates have Chinese column headers, and a file
laid out with the template's own header row imports; a file with the English codes as headers
(the API's names, older templates) still imports."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from loans.models import Loan
from loans.services import import_rows, settlement_list
from loans.services.imports import import_loans
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db

CJK = range(0x4E00, 0xA000)

LOAN = {
    "registration_no": None,  # the household's, per test
    "contract_no": "HT-14-1",
    "receipt_no": "JJ-14-1",
    "amount": "20000",
    "rate": "4.35",
    "disbursed_on": "2021-03-15",
    "maturity_on": "2023-03-15",
    "outstanding": "20000",
    "use_mode": "户借户用户还",
}


def template_header(data: bytes) -> list[str]:
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    return [c for c in next(ws.iter_rows(max_row=1, values_only=True)) if c]


def is_chinese(text: str) -> bool:
    return any(ord(ch) in CJK for ch in text)


def xlsx(header: list[str], rows: list[list]) -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile("file.xlsx", out.getvalue())


def test_the_loan_book_template_is_in_chinese_and_imports(world, household):
    header = template_header(import_rows.import_template())
    assert header and all(is_chinese(h) for h in header)
    by_header = {c.header: c.key for c in import_rows.COLUMNS}
    values = {**LOAN, "registration_no": household.registration_no}
    file = xlsx(header, [[values.get(by_header[h], "") for h in header]])
    assert import_loans(acting_user=world.officer, file=file, filename=file.name) == 1
    assert Loan.objects.get(contract_no="HT-14-1").amount == Decimal("20000.00")


def test_the_loan_book_still_takes_the_english_codes(world, household):
    values = {**LOAN, "registration_no": household.registration_no, "contract_no": "HT-14-2"}
    file = xlsx(list(values), [list(values.values())])
    assert import_loans(acting_user=world.officer, file=file, filename=file.name) == 1
    assert Loan.objects.filter(contract_no="HT-14-2").exists()


SETTLEMENT = {
    "contract_no": None,
    "period_start": "2025-03-20",
    "period_end": "2025-06-20",
    "principal": "30000.00",
    "rate": "4.35",
    "interest_due": "333.50",  # 30,000 × 4.35% × 92 / 360
    "interest_paid": "333.50",
    "penalty_paid": "0",
    "paid_on": "2025-06-20",
}


def _settle(world, file):
    return settlement_list.settlement_import(
        acting_user=world.officer, file=file, filename=file.name, end_date_counted=False
    )


def test_the_settlement_template_is_in_chinese_and_imports(world, household):
    loan = LoanFactory(household=household, branch=world.br1)
    header = template_header(settlement_list.settlement_template())
    assert header and all(is_chinese(h) for h in header)
    by_header = {c.header: c.key for c in settlement_list.COLUMNS}
    values = {**SETTLEMENT, "contract_no": loan.contract_no}
    result = _settle(world, xlsx(header, [[values[by_header[h]] for h in header]]))
    assert result.counts()["created"] == 1


def test_the_settlement_list_still_takes_the_english_codes(world, household):
    loan = LoanFactory(household=household, branch=world.br1)
    values = {**SETTLEMENT, "contract_no": loan.contract_no}
    result = _settle(world, xlsx(list(values), [list(values.values())]))
    assert result.counts()["created"] == 1
