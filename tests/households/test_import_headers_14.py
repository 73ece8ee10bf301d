"""Issue 14: the household roster's template has Chinese headers and imports as it is; a roster
with the English codes as headers (the API's field names) imports too."""

import io

import pytest
from openpyxl import Workbook, load_workbook

from households import excel, excel_import
from households.models import Household
from tests.factories import unique_id_number

pytestmark = pytest.mark.django_db


def member(reg, name, relation, **extra):
    return {
        "registration_no": reg,
        "village": "五通村",
        "poverty_status": "未脱贫",
        "name": name,
        "id_number": unique_id_number(40),
        "relation": relation,
        "labour_capacity": "有劳动能力",
        **extra,
    }


def workbook(header, keys, rows):
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append([r.get(k, "") for k in keys])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "roster.xlsx"
    return out


def test_the_template_header_is_chinese_and_a_file_with_it_imports(world):
    ws = load_workbook(io.BytesIO(excel.import_template(user=world.cadre))).worksheets[0]
    header = [c for c in next(ws.iter_rows(max_row=1, values_only=True)) if c]
    assert header == [c.header for c in excel.COLUMNS]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in header)
    rows = [member("ZH-1", "张三", "户主"), member("ZH-1", "李四", "配偶")]
    keys = [c.key for c in excel.COLUMNS]
    preview = excel_import.parse_workbook(workbook(header, keys, rows), user=world.cadre)
    assert preview.errors == []


def test_a_roster_with_the_english_codes_as_headers_imports(world):
    keys = [c.key for c in excel.COLUMNS]
    rows = [member("EN-1", "王五", "户主"), member("EN-1", "赵六", "子女")]
    file = workbook(keys, keys, rows)
    preview = excel_import.parse_workbook(file, user=world.cadre)
    assert preview.errors == []
    file.seek(0)
    assert excel_import.import_commit(acting_user=world.cadre, file=file, filename="roster.xlsx") == 1
    assert Household.objects.get(registration_no="EN-1").members.count() == 2
