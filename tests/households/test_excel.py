"""Excel import and export of households: every bad row reported with its Excel row number,
all-or-nothing commits, the pages' preview → confirm flow, and the export's masking and queries."""

import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from core import tabular
from core.models import AuditEvent
from households import excel, excel_import, idnumbers
from households.models import Household, Member
from households.views_excel import UPLOAD_DIR
from tests.factories import HouseholdFactory, MemberFactory, id_number, unique_id_number

HEADERS = [c.header for c in excel.COLUMNS]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def person(reg, name, number, relation="户主", *, village="五通村", status="未脱贫", **extra):
    """One member row, keyed by header; household columns only on the head's row by default."""
    row = {"户编号": reg, "姓名": name, "身份证号": number, "与户主关系": relation, "劳动能力": "有劳动能力"}
    if relation == "户主":
        row.update({"所属村": village, "贫困状态": status, "家庭住址": "五通村一组", "家庭年收入(元)": 12000})
    row.update(extra)
    return row


def workbook(rows, headers=HEADERS, *, title=None) -> io.BytesIO:
    """An .xlsx the way a cadre's file looks: ID numbers typed as text unless a test says otherwise."""
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h.strip().replace("（", "(").replace("）", ")")) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "名单.xlsx"
    return out


def good_rows():
    return [
        person("H001", "张三", unique_id_number(45), **{"主要产业": "养殖", "家庭资产(元)": 30000.5}),
        person("H001", "李四", unique_id_number(43), "配偶"),
        person("H001", "张小明", unique_id_number(12), "子女", **{"劳动能力": "无劳动能力"}),
        person(
            "H002", "王五", unique_id_number(60), status="已脱贫", **{"脱贫日期": datetime.date(2020, 12, 31)}
        ),
        person("H002", "王小五", unique_id_number(35), "子女", **{"联系电话": 13800138000}),
        person("H003", "赵六", unique_id_number(50), status="边缘易致贫户", **{"劳动能力": "弱劳动能力"}),
    ]


def counts():
    return Household.objects.count(), Member.objects.count(), AuditEvent.objects.count()


def found(errors):
    return {(e.row, e.column, e.code) for e in errors}


# ---------------------------------------------------------------------------------------------
# The service


def test_good_file_imports_every_household(world):
    rows = good_rows()
    preview = excel_import.parse_workbook(workbook(rows), user=world.cadre)
    assert preview.errors == []
    assert [h.registration_no for h in preview.households] == ["H001", "H002", "H003"]
    assert [h.member_count for h in preview.households] == [3, 2, 1]
    assert preview.households[0].head_name == "张三"
    assert counts() == (0, 0, 0), "the preview writes nothing"

    created = excel_import.import_commit(acting_user=world.cadre, file=workbook(rows), filename="名单.xlsx")

    assert created == 3
    assert Member.objects.count() == 6
    h1 = Household.objects.get(registration_no="H001")
    assert h1.village == world.v1a
    assert h1.poverty_status == Household.PovertyStatus.NOT_EXITED
    assert h1.annual_income == Decimal("12000.00")
    assert h1.assets == Decimal("30000.50")
    assert h1.business == "养殖"
    head = h1.members.get(is_head=True)
    assert (head.name, head.relation) == ("张三", Member.Relation.HEAD)
    assert h1.members.filter(is_head=True).count() == 1
    assert list(h1.members.values_list("relation", flat=True)) == ["head", "spouse", "child"]
    assert h1.members.get(name="张小明").labour_capacity == Member.Labour.NONE
    # Encrypted at rest, found by the keyed hash, masked for lists.
    number = rows[0]["身份证号"]
    assert number not in head.id_number_encrypted
    assert head.id_number == number
    assert head.id_number_hash == idnumbers.lookup_hash(number)
    assert head.id_number_masked == idnumbers.mask(number)
    h2 = Household.objects.get(registration_no="H002")
    assert (h2.poverty_status, h2.exited_on) == ("exited", datetime.date(2020, 12, 31))
    assert h2.members.get(name="王小五").phone == "13800138000"
    assert Household.objects.get(registration_no="H003").poverty_status == "monitored_edge"
    events = AuditEvent.objects.filter(action="household.create")
    assert events.count() == 3
    assert {e.actor for e in events} == {world.cadre}
    assert all("名单.xlsx" in e.reason for e in events)


def test_lower_case_x_is_accepted_and_stored_upper_case(world):
    number = next(
        n for n in (id_number(datetime.date(1980, 5, 5), s) for s in range(1, 200)) if n.endswith("X")
    )
    excel_import.import_commit(
        acting_user=world.cadre, file=workbook([person("H9", "陈七", number.lower())]), filename="f"
    )
    assert Member.objects.get().id_number == number


def test_headers_matched_by_name_in_any_order_below_a_title(world):
    headers = [
        " 身份证号 ",
        "姓名",
        "序号",
        "与户主关系",
        "劳动能力",
        "所属村",
        "户编号 ",
        "贫困状态",
        "家庭年收入（元）",
    ]
    rows = [person("H1", "甲", unique_id_number(30)), person("H1", "乙", "123", "配偶")]
    preview = excel_import.parse_workbook(
        workbook(rows, headers, title="五通村建档立卡户花名册"), user=world.cadre
    )
    # Title on row 1, headers on row 2: the second member is on Excel row 4.
    assert found(preview.errors) == {(4, "身份证号", "id_length")}
    assert preview.households[0].fields["annual_income"] == Decimal("12000.00")


def test_every_bad_row_is_reported_and_nothing_is_written(world):
    registered = MemberFactory(
        household=HouseholdFactory(village=world.v1a, registration_no="OLD1", head=False)
    )
    registered_number = unique_id_number(40)
    registered.set_id_number(idnumbers.parse(registered_number))
    registered.save()
    good = unique_id_number(45)
    bad_checksum = good[:17] + ("0" if good[17] != "0" else "1")
    impossible_birth = id_number(datetime.date(1990, 2, 1), 7).replace("19900201", "19900230")
    float_cell = float(unique_id_number(30)[:17] + "0")
    rows = [
        person("H1", "张三", good),  # row 2
        person("H1", "李四", bad_checksum, "配偶"),  # row 3
        person("H1", "王五", int(unique_id_number(20)[:17] + "1"), "子女"),  # row 4: a number cell
        person("H1", "赵六", float_cell, "子女"),  # row 5: a number cell Excel has rounded
        person("H1", "钱七", impossible_birth, "父母"),  # row 6
        person("H1", "孙八", good, "其他"),  # row 7: same person as row 2
        person("H2", "周九", registered_number),  # row 8: already in the system
        person("H3", "吴十", unique_id_number(40)),  # row 9
        person("H3", "郑一", unique_id_number(40), "户主"),  # row 10: a second head
        person("H4", "冯二", unique_id_number(40), village="不存在村"),  # row 11
        person("H5", "陈三", unique_id_number(40), village="茶洞村"),  # row 12: township's, not the cadre's
        person("H6", "褚四", unique_id_number(40), village="定江村"),  # row 13: another county
        person("OLD1", "卫五", unique_id_number(40)),  # row 14: registration number taken
        person("H7", "蒋六", unique_id_number(40), status="贫困户", **{"家庭资产(元)": "很多"}),  # row 15
        person("H8", "沈七", unique_id_number(40), "女婿"),  # row 16: no head, unknown relation
        person("H9", "韩八", unique_id_number(40), status="已脱贫", **{"脱贫日期": "去年"}),  # row 17
        person("", "杨九", unique_id_number(40)),  # row 18: no registration number
        person("H10", "朱十", unique_id_number(40)),  # row 19
        person("H10", "秦一", unique_id_number(40), "配偶", **{"家庭住址": "别处"}),  # row 20
        person("H11", "许二", unique_id_number(40), "配偶"),  # row 21: a household without a head
    ]
    before = counts()

    preview = excel_import.parse_workbook(workbook(rows), user=world.cadre)

    errors = found(preview.errors)
    expected = {
        (3, "身份证号", "id_checksum"),
        (4, "身份证号", "id_not_text"),
        (5, "身份证号", "id_not_text"),
        (6, "身份证号", "id_birth_date"),
        (7, "身份证号", "duplicate_in_file"),
        (8, "身份证号", "duplicate_id_number"),
        (10, "与户主关系", "household_head"),
        (11, "所属村", "unknown_village"),
        (12, "所属村", "out_of_scope"),
        (13, "所属村", "out_of_scope"),
        (14, "户编号", "duplicate_registration_no"),
        (15, "贫困状态", "invalid_choice"),
        (15, "家庭资产(元)", "invalid_amount"),
        (16, "与户主关系", "invalid_choice"),
        (17, "脱贫日期", "invalid_date"),
        (18, "户编号", "required"),
        (20, "家庭住址", "contradiction"),
        (21, "与户主关系", "household_head"),
    }
    assert expected <= errors, expected - errors
    assert {e[0] for e in errors} == {e[0] for e in expected}, "no error on the good rows"
    assert [e.row for e in preview.errors] == sorted(e.row for e in preview.errors)
    numeric = next(e for e in preview.errors if e.row == 4)
    assert "15" in numeric.message
    assert not preview.ok
    assert counts() == before

    with pytest.raises(excel_import.ImportRejected) as rejected:
        excel_import.import_commit(acting_user=world.cadre, file=workbook(rows), filename="bad.xlsx")
    assert found(rejected.value.preview.errors) == errors
    assert counts() == before


def test_one_bad_household_keeps_every_other_household_out(world):
    rows = [
        *good_rows(),
        person("H9", "韩八", unique_id_number(40), status="已脱贫"),
    ]  # exited without a date
    preview = excel_import.parse_workbook(workbook(rows), user=world.cadre)
    # Caught by household_create itself during the dry run, placed on the head's row.
    assert found(preview.errors) == {(8, "脱贫日期", "invalid")}
    with pytest.raises(excel_import.ImportRejected):
        excel_import.import_commit(acting_user=world.cadre, file=workbook(rows), filename="f.xlsx")
    assert counts() == (0, 0, 0)


def test_missing_column_is_reported(world):
    headers = [h for h in HEADERS if h != "身份证号"]
    preview = excel_import.parse_workbook(workbook(good_rows(), headers), user=world.cadre)
    assert found(preview.errors) == {(1, "身份证号", "missing_column")}
    assert preview.households == []


def test_a_column_given_twice_is_reported(world):
    preview = excel_import.parse_workbook(workbook(good_rows(), [*HEADERS, "身份证号码"]), user=world.cadre)
    assert found(preview.errors) == {(1, "身份证号", "duplicate_column")}


@pytest.mark.parametrize(
    "content",
    [b"not a workbook at all", b"PK\x03\x04broken zip"],
)
def test_a_file_that_is_not_a_workbook_is_reported(world, content):
    preview = excel_import.parse_workbook(io.BytesIO(content), user=world.cadre)
    assert [(e.row, e.code) for e in preview.errors] == [(None, "bad_file")]


def test_too_many_rows_is_reported(world, monkeypatch):
    monkeypatch.setattr(excel_import, "MAX_ROWS", 5)
    preview = excel_import.parse_workbook(workbook(good_rows()), user=world.cadre)
    # Refused as a whole file (row None), like every import's refusal (core/tabular.py).
    assert [(e.row, e.code) for e in preview.errors] == [(None, "too_many_rows")]
    assert preview.households == []


def test_township_officer_imports_into_any_village_of_the_township(world):
    rows = [
        person("H1", "甲", unique_id_number(30), village="五通村"),
        person("H2", "乙", unique_id_number(30), village="450312101202"),  # 茶洞村 by its code
        person("H3", "丙", unique_id_number(30), village="两江村"),  # the other township
    ]
    preview = excel_import.parse_workbook(workbook(rows), user=world.township_officer)
    assert found(preview.errors) == {(4, "所属村", "out_of_scope")}
    assert preview.households[1].village == world.v1b


# ---------------------------------------------------------------------------------------------
# The pages


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded files go to a folder of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path)


def _pending_files():
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_DIR
    return sorted(folder.glob("*.xlsx")) if folder.exists() else []


def test_preview_then_confirm_through_the_pages(world, client_as):
    client = client_as(world.cadre)
    assert client.get(reverse("households:import")).status_code == 200
    rows = good_rows()

    preview = client.post(reverse("households:import"), {"file": workbook(rows)})

    assert preview.status_code == 200
    assert preview.context["preview"].ok
    token = preview.context["token"]
    assert token and f'value="{token}"' in preview.content.decode()
    assert reverse("households:import_commit") in preview.content.decode()
    assert counts() == (0, 0, 0)
    assert any(token in p.name for p in _pending_files())

    done = client.post(reverse("households:import_commit"), {"token": token})

    assert done.status_code == 302
    assert done.url == reverse("households:list")
    assert (Household.objects.count(), Member.objects.count()) == (3, 6)
    assert not any(token in p.name for p in _pending_files()), "the uploaded file is deleted"
    page = client.get(done.url)
    assert "名单.xlsx" in str(list(page.context["messages"])[0])
    # The same confirmation again imports nothing twice.
    again = client.post(reverse("households:import_commit"), {"token": token})
    assert again.status_code == 302 and again.url == reverse("households:import")
    assert Household.objects.count() == 3


def test_preview_with_errors_offers_no_confirmation_and_a_direct_commit_writes_nothing(world, client_as):
    client = client_as(world.cadre)
    rows = [*good_rows(), person("H9", "坏", 450322199001011234)]
    preview = client.post(reverse("households:import"), {"file": workbook(rows)})
    assert preview.status_code == 200
    assert preview.context["token"] is None
    assert reverse("households:import_commit") not in preview.content.decode()
    assert (8, "身份证号", "id_not_text") in found(preview.context["errors"])
    assert _pending_files() == [], "a file with errors is not kept"

    for data in ({}, {"token": "0" * 32}, {"token": "../../etc/passwd"}):
        response = client.post(reverse("households:import_commit"), data)
        assert response.status_code == 302
    assert counts() == (0, 0, 0)


def test_commit_checks_again_and_rolls_everything_back(world, client_as):
    client = client_as(world.cadre)
    rows = good_rows()
    token = client.post(reverse("households:import"), {"file": workbook(rows)}).context["token"]
    # Between preview and confirmation someone registers the spouse of household H001 elsewhere.
    MemberFactory(household=HouseholdFactory(village=world.v1b), id_number=rows[1]["身份证号"])
    before = counts()

    response = client.post(reverse("households:import_commit"), {"token": token})

    assert response.status_code == 409
    assert found(response.context["errors"]) == {(3, "身份证号", "duplicate_id_number")}
    assert counts() == before
    assert _pending_files() == []


def test_upload_limits_are_explained(world, client_as, monkeypatch):
    client = client_as(world.cadre)
    old = io.BytesIO(b"\xd0\xcf\x11\xe0")
    old.name = "名单.xls"
    response = client.post(reverse("households:import"), {"file": old})
    assert response.status_code == 400
    assert response.context["form"].errors["file"]

    monkeypatch.setattr(tabular, "MAX_FILE_SIZE", 100)
    response = client.post(reverse("households:import"), {"file": workbook(good_rows())})
    assert response.status_code == 400
    assert "MB" in str(response.context["form"].errors["file"])

    monkeypatch.undo()
    garbage = io.BytesIO(b"this is not excel")
    garbage.name = "x.xlsx"
    response = client.post(reverse("households:import"), {"file": garbage})
    assert response.status_code == 200
    assert [e.code for e in response.context["errors"]] == ["bad_file"]


@pytest.mark.parametrize("role", ["finance", "officer", "approver", "committee"])
def test_import_is_refused_to_other_roles(world, client_as, role):
    client = client_as(getattr(world, role))
    assert client.get(reverse("households:import")).status_code == 403
    assert client.get(reverse("households:import_template")).status_code == 403
    assert client.post(reverse("households:import"), {"file": workbook(good_rows())}).status_code == 403
    assert client.post(reverse("households:import_commit"), {"token": "0" * 32}).status_code == 403
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("role", ["cadre", "township_officer", "county_office", "admin"])
def test_import_page_is_open_to_household_editors(world, client_as, role):
    assert client_as(getattr(world, role)).get(reverse("households:import")).status_code == 200


def test_anonymous_users_are_sent_to_log_in(client, world):
    response = client.get(reverse("households:import"))
    assert response.status_code == 302 and reverse("accounts:login") in response.url


def test_template_has_text_id_column_instructions_and_imports_as_is(world, client_as):
    response = client_as(world.cadre).get(reverse("households:import_template"))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == [excel.SHEET_DATA, excel.SHEET_HELP, excel.SHEET_VILLAGES]
    ws = wb[excel.SHEET_DATA]
    assert [c.value for c in ws[1]] == HEADERS
    id_col = HEADERS.index("身份证号") + 1
    assert ws.cell(row=2, column=id_col).number_format == "@"
    assert "身份证号" in " ".join(str(c.value) for row in wb[excel.SHEET_HELP].iter_rows() for c in row)
    assert [r[0].value for r in wb[excel.SHEET_VILLAGES].iter_rows(min_row=2)] == ["五通村"]

    # Filled in as a cadre would, the template imports without complaint.
    number = unique_id_number(40)
    for col, value in enumerate(person("T1", "甲", number).get(h) for h in HEADERS):
        if value is not None:
            ws.cell(row=2, column=col + 1, value=value)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    preview = excel_import.parse_workbook(out, user=world.cadre)
    assert preview.errors == [] and preview.member_count == 1


# ---------------------------------------------------------------------------------------------
# Export


def _export(client, **params):
    response = client.get(reverse("households:export"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    # The first row marks the file as personal data (#10); the header follows.
    assert rows[0][0].startswith("含个人信息")
    assert rows[1] == HEADERS
    return [dict(zip(HEADERS, r, strict=True)) for r in rows[2:]]


def test_export_filters_like_the_list_and_masks_ids_for_every_role(world, client_as):
    exited = HouseholdFactory(
        village=world.v1a, poverty_status="exited", exited_on=datetime.date(2020, 12, 1)
    )
    MemberFactory(household=exited)
    HouseholdFactory(village=world.v1a)
    HouseholdFactory(village=world.v1b, poverty_status="exited", exited_on=datetime.date(2021, 1, 1))
    HouseholdFactory(village=world.v2a, poverty_status="exited", exited_on=datetime.date(2021, 1, 1))
    head = exited.members.get(is_head=True)

    rows = _export(client_as(world.township_officer), village=world.v1a.pk, status="exited")

    assert {r["户编号"] for r in rows} == {exited.registration_no}
    assert [r["与户主关系"] for r in rows] == ["户主", "配偶"]
    assert rows[0]["身份证号"] == head.id_number_masked and "*" in rows[0]["身份证号"]
    assert rows[0]["所属村"] == "五通村" and rows[0]["贫困状态"] == "已脱贫"
    assert rows[0]["脱贫日期"].date() == datetime.date(2020, 12, 1)

    township_all = _export(client_as(world.township_officer))
    assert {r["所属村"] for r in township_all} == {"五通村", "茶洞村"}, "scoped to the township"

    # #10: the cadre's export is masked too; whole numbers are the separate, audited export.
    cadre_rows = _export(client_as(world.cadre), status="exited")
    assert {r["户编号"] for r in cadre_rows} == {exited.registration_no}
    assert cadre_rows[0]["身份证号"] == head.id_number_masked

    # Who took personal data out, and whether with whole ID numbers, is on record.
    exports = AuditEvent.objects.filter(action="household.export").order_by("id")
    assert [(e.actor, e.data["households"], e.data["full_id_numbers"]) for e in exports] == [
        (world.township_officer, 1, False),
        (world.township_officer, 3, False),
        (world.cadre, 1, False),
    ]


def test_export_round_trips_through_the_import(world, client_as):
    """A cadre's export with full numbers is a valid import file once the households are gone:
    the marking row above the header does not get in the way."""
    excel_import.import_commit(acting_user=world.cadre, file=workbook(good_rows()), filename="f")
    data = client_as(world.cadre).post(reverse("households:export_full"), {"purpose": "重新导入测试"}).content
    Household.objects.all().delete()
    preview = excel_import.parse_workbook(io.BytesIO(data), user=world.cadre)
    assert preview.errors == []
    assert [h.member_count for h in preview.households] == [3, 2, 1]


def test_export_query_count_does_not_grow_with_households(world, client_as, django_assert_max_num_queries):
    client = client_as(world.township_officer)

    def make(n):
        for _ in range(n):
            MemberFactory(household=HouseholdFactory(village=world.v1a))

    make(3)
    with CaptureQueriesContext(connection) as few:
        assert len(_export(client)) == 6
    make(27)
    with django_assert_max_num_queries(len(few)):
        assert len(_export(client)) == 60
