"""Exports (#10; ASVS V1, V5; PIPL art.28; STYLE.md rule 14): a cell that came from a person is
never a live formula in any XLSX or CSV we write, and household exports mask ID numbers, with a
full-ID export a separate, stated, audited action whose file is marked as sensitive. Each test
performs the attack and asserts that it fails."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from core.cells import csv_text, set_xlsx_value, xlsx_cell
from core.models import AuditEvent
from households import excel
from households.models import Household, Member
from tests.factories import HouseholdFactory, MemberFactory
from tests.subsidies.conftest import after_q3, compute_now, eager_tasks, finance2, make_loan, settle  # noqa: F401
from tests.subsidies.test_exports import approve, case, content, url  # noqa: F401

PAYLOADS = [
    '=HYPERLINK("http://evil",1)',
    "=1+2",
    "+1",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]
XLSX_PATH_HEADERS = ("姓名", "家庭住址", "主要产业")


def read_back(payload: str) -> str:
    """The text as read back from an XLSX: XML turns a carriage return into a line feed."""
    return payload.replace("\r", "\n")


# ---------------------------------------------------------------------------------------------
# The one helper


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_helper_stores_formula_like_text_as_a_string_cell(payload):
    wb = Workbook()
    ws = wb.active
    set_xlsx_value(ws.cell(row=1, column=1), payload)
    wo = Workbook(write_only=True)
    sheet = wo.create_sheet("s")
    sheet.append([xlsx_cell(sheet, payload)])
    for book in (wb, wo):
        out = io.BytesIO()
        book.save(out)
        cell = load_workbook(io.BytesIO(out.getvalue())).worksheets[0]["A1"]
        assert (cell.value, cell.data_type) == (read_back(payload), "s")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_helper_gives_csv_text_a_leading_apostrophe(payload):
    out = io.StringIO()
    csv.writer(out).writerow([csv_text(payload), csv_text("张三"), csv_text(None)])
    [row] = csv.reader(io.StringIO(out.getvalue()))
    assert row == ["'" + payload, "张三", ""]


# ---------------------------------------------------------------------------------------------
# The household exports


def household_with(world, payload) -> Household:
    household = HouseholdFactory(village=world.v1a, address=payload, business=payload, head__name=payload)
    MemberFactory(household=household, name="李秀英")
    return household


def sheet_rows(data: bytes):
    ws = load_workbook(io.BytesIO(data)).active
    return list(ws.iter_rows())


def cells_under(rows, header: str):
    headers = [c.value for c in rows[1]]
    index = headers.index(header)
    return [r[index] for r in rows[2:]]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_household_export_writes_names_and_addresses_as_text(world, client_as, payload):
    household_with(world, payload)
    masked = client_as(world.township_officer).get(reverse("households:export"))
    full = client_as(world.cadre).post(reverse("households:export_full"), {"purpose": "核对"})
    for response in (masked, full):
        assert response.status_code == 200
        rows = sheet_rows(response.content)
        for header in XLSX_PATH_HEADERS:
            cell = next(c for c in cells_under(rows, header) if c.value == read_back(payload))
            assert cell.data_type == "s", (header, cell.value)
        formulas = [c.coordinate for r in rows for c in r if c.data_type == "f"]
        assert formulas == []


def test_the_import_templates_village_list_writes_names_as_text(world, client_as):
    world.v1a.name = "=1+2"
    world.v1a.save()
    response = client_as(world.cadre).get(reverse("households:import_template"))
    ws = load_workbook(io.BytesIO(response.content))["村名单"]
    cell = next(c for r in ws.iter_rows() for c in r if c.value == "=1+2")
    assert cell.data_type == "s"


@pytest.mark.parametrize("role", ["cadre", "officer", "township_officer", "county_office", "admin"])
def test_the_household_export_masks_id_numbers_for_every_role(world, client_as, role):
    """The attack: a loan officer (679 numbers) or a cadre (264) downloads the list and gets
    whole ID numbers. Now the export masks them like every list."""
    user = getattr(world, role)
    household = HouseholdFactory(village=world.v1a)  # every one of these roles sees 五通村
    response = client_as(user).get(reverse("households:export"))
    assert response.status_code == 200
    head = household.members.get(is_head=True)
    data = response.content
    rows = sheet_rows(data)
    numbers = [c.value for c in cells_under(rows, "身份证号")]
    assert head.id_number_masked in numbers
    for member in Member.objects.all():
        assert member.id_number not in numbers
    assert rows[0][0].value.startswith("含个人信息")
    event = AuditEvent.objects.get(action="household.export", actor=user)
    assert event.data["full_id_numbers"] is False and event.data["rows"] == len(rows) - 2


def test_a_full_id_export_needs_a_stated_purpose(world, client_as):
    household = HouseholdFactory(village=world.v1a)
    client = client_as(world.cadre)
    page = client.get(reverse("households:export_full"))
    assert page.status_code == 200 and "导出用途" in page.content.decode()
    for purpose in ("", "   "):
        response = client.post(reverse("households:export_full"), {"purpose": purpose})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert household.members.get(is_head=True).id_number not in response.content.decode()
    assert not AuditEvent.objects.filter(action="household.export_full_ids").exists()


def test_the_service_refuses_a_full_id_export_without_purpose_or_role(world):
    queryset = Household.objects.all()
    with pytest.raises(excel.ApplicationError) as caught:
        excel.export_workbook(user=world.cadre, queryset=queryset, full_ids=True, purpose=" ")
    assert caught.value.field == "purpose"
    with pytest.raises(excel.NotPermitted):
        excel.export_workbook(user=world.township_officer, queryset=queryset, full_ids=True, purpose="x")


@pytest.mark.parametrize("role", ["township_officer", "county_office", "finance", "committee"])
def test_roles_without_full_numbers_cannot_export_them(world, client_as, role):
    HouseholdFactory(village=world.v1a)
    client = client_as(getattr(world, role))
    assert client.get(reverse("households:export_full")).status_code == 403
    response = client.post(reverse("households:export_full"), {"purpose": "想看看"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="household.export_full_ids").exists()


def test_the_full_id_export_is_audited_and_marked_sensitive_on_every_sheet(world, client_as):
    wanted = HouseholdFactory(village=world.v1a)
    MemberFactory(household=wanted)
    HouseholdFactory(village=world.v1b)
    HouseholdFactory(village=world.vz)  # another county: never in the file
    head = wanted.members.get(is_head=True)
    client = client_as(world.cadre)

    response = client.post(
        reverse("households:export_full"),
        {"purpose": "农商行征信查询", "q": head.id_number, "village": str(world.v1a.pk), "status": ""},
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    workbook = load_workbook(io.BytesIO(response.content))
    for ws in workbook.worksheets:
        assert ws["A1"].value.startswith("含敏感个人信息") and "农商行征信查询" in ws["A1"].value
        assert ws.oddHeader.center.text == "含敏感个人信息"
        assert ws.oddFooter.center.text.startswith("含敏感个人信息")
    rows = list(workbook.active.iter_rows())
    numbers = [c.value for c in cells_under(rows, "身份证号")]
    assert sorted(numbers) == sorted(m.id_number for m in wanted.members.all())
    event = AuditEvent.objects.get(action="household.export_full_ids")
    assert event.actor == world.cadre
    assert event.reason == "农商行征信查询" and event.data["purpose"] == "农商行征信查询"
    assert (event.data["households"], event.data["rows"], event.data["full_id_numbers"]) == (1, 2, True)
    # The filter is recorded, a searched ID number only masked: the log is no second store of them.
    assert event.data["filter"] == {
        "q": head.id_number_masked,
        "village": world.v1a.pk,
        "status": "",
        "grade": "",
        "can_apply": False,
    }
    assert head.id_number not in str(event.data)


def test_the_list_offers_the_full_export_only_to_roles_that_may_see_full_numbers(world, client_as):
    full = reverse("households:export_full")
    assert full in client_as(world.cadre).get(reverse("households:list")).content.decode()
    assert full not in client_as(world.township_officer).get(reverse("households:list")).content.decode()


# ---------------------------------------------------------------------------------------------
# The subsidy exports


@pytest.mark.parametrize("payload", PAYLOADS)
def test_subsidy_detail_xlsx_writes_a_borrowers_name_as_text(world, case, client_as, payload):  # noqa: F811
    Member.objects.filter(pk=case.a.borrower_id).update(name=payload)
    response = client_as(world.finance).get(url("export-xlsx", case.batch))
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(content(response))).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value == read_back(payload)]
    assert [c.data_type for c in cells] == ["s"]
    assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_subsidy_payment_csv_gives_a_borrowers_name_a_leading_apostrophe(
    world,
    case,  # noqa: F811
    client_as,
    approve,  # noqa: F811
    payload,
):
    Member.objects.filter(pk=case.a.borrower_id).update(name=payload)
    batch = approve(case.batch)
    response = client_as(world.finance).get(url("export-payment-csv", batch))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(content(response).decode("utf-8-sig"))))
    names = {row[3]: row[1] for row in rows[1:]}
    assert names[case.a.contract_no] == "'" + payload
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
