"""Import bombs (#10, ASVS V5; STYLE rule 14): every import (households XLSX, existing loans CSV and
XLSX, settlement lists CSV and XLSX, the calendar CSV and XLSX) refuses a file whose size, unpacked
size, row count or cell length passes a stated limit, with one clear Chinese message, before the
heavy work: the ZIP's declared sizes are judged before openpyxl opens the workbook, rows are
streamed and never read past the cap (blank rows count), and openpyxl parses with defusedxml.

The bombs are built here, byte by byte, and a small control built the same way is accepted, so a
refusal is the limit's doing, not a broken file's. No test asserts a duration (a slow machine is
no failure); "before the heavy work" is proven by the refusal's code, by openpyxl never being
called, and by the memory the refusal took (tracemalloc)."""

import csv
import io
import tracemalloc
import zipfile

import openpyxl
import openpyxl.xml
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from core import tabular, uploads
from households import excel, excel_import
from loans.services import import_rows, settlement_list
from loans.services import imports as loan_imports
from policies import calendar_files, services

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
NOTICE = "国务院办公厅关于2027年部分节假日安排的通知"
# A refused import may allocate this much at most (the file itself is a few hundred KB). The
# shared-string bomb alone unpacks to 200 MB, and its string would take 200 MB more in Python.
MEMORY_CEILING = 50 * MB


# ---- the importers, each as an officer of the right role would call it -------------------------


def households(world, upload):
    return excel_import.parse_workbook(upload, user=world.cadre).errors


def loans(world, upload):
    return loan_imports.parse_loans(upload, upload.name, user=world.officer).errors


def settlements(world, upload):
    return settlement_list.settlement_import_check(
        user=world.officer, file=upload, filename=upload.name, end_date_counted=False
    ).errors


def calendar(world, upload):
    return services.calendar_import_check(
        acting_user=world.admin, file=upload, filename=upload.name, year=2027, source=NOTICE
    ).errors


HEADERS = {
    households: [c.header for c in excel.COLUMNS],
    loans: [c.header for c in import_rows.COLUMNS],
    settlements: [c.header for c in settlement_list.COLUMNS],
    calendar: [c.header for c in calendar_files.COLUMNS],
}
ALL = [households, loans, settlements, calendar]
CAPS = {
    households: excel_import.MAX_ROWS,
    loans: import_rows.MAX_ROWS,
    settlements: settlement_list.MAX_ROWS,
    calendar: calendar_files.MAX_ROWS,
}
TAKE_CSV = [loans, settlements, calendar]


def refusal(errors) -> tuple[str, str]:
    """The one whole-file refusal: (code, message)."""
    assert [(e.row, e.column) for e in errors] == [(None, "")], [str(e) for e in errors]
    return errors[0].code, errors[0].message


def run(importer, world, data: bytes, name: str):
    with translation.override("zh-hans"):
        return importer(world, SimpleUploadedFile(name, data))


def measured(importer, world, data: bytes, name: str):
    """The importer's errors and the peak memory it allocated."""
    tracemalloc.start()
    try:
        errors = run(importer, world, data, name)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return errors, peak


@pytest.fixture
def openpyxl_never_opens(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook that should have been refused unopened")

    monkeypatch.setattr(openpyxl, "load_workbook", never)


# ---- building workbooks by hand -------------------------------------------------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    b'Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    b'Target="sharedStrings.xml"/></Relationships>'
)
SHEET_OPEN = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
SHEET_CLOSE = b"</sheetData></worksheet>"


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").encode()


def header_row(headers) -> bytes:
    cells = b"".join(
        b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>'
        % (openpyxl.utils.get_column_letter(i).encode(), _escape(h))
        for i, h in enumerate(headers, start=1)
    )
    return b'<row r="1">' + cells + b"</row>"


def xlsx(sheet_parts, shared_parts=(b"<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"/>",),
         *, prologue: bytes = b"") -> bytes:  # fmt: skip
    """A workbook from raw XML, written in chunks so a 200 MB member never sits in memory."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/sharedStrings.xml", "w") as member:
            for part in shared_parts:
                member.write(part)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(prologue)
            for part in sheet_parts:
                member.write(part)
    return out.getvalue()


def sheet(headers, *rows: bytes):
    return [SHEET_OPEN, header_row(headers), *rows, SHEET_CLOSE]


def shared_string_bomb(headers) -> bytes:
    """One 200 MB shared string (the attack of #10: a 205 KB file that took 364 MB of memory)."""
    chunk = b"A" * MB

    def strings():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        yield b"<si><t>"
        for _ in range(200):
            yield chunk
        yield b"</t></si></sst>"

    return xlsx(sheet(headers, b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'), strings())


def blank_rows(headers, *, numbered: bool, count=1_000_000) -> bytes:
    """A header and a million blank rows, each written out: `<row/>` (the 98 KB, 15 s attack of
    #10) or `<row r="…"/>`, whose numbers compress far less well."""

    def rows():
        yield SHEET_OPEN
        yield header_row(headers)
        batch = 10_000
        for start in range(2, count + 2, batch):
            numbers = range(start, min(start + batch, count + 2))
            yield b"".join(b'<row r="%d"/>' % n for n in numbers) if numbered else b"<row/>" * len(numbers)
        yield SHEET_CLOSE

    return xlsx(rows())


def far_row(headers, number=1_000_001) -> bytes:
    """A header and one cell a million rows down: a tiny, honest-looking ZIP whose reader must
    produce every blank row in between."""
    return xlsx(
        sheet(headers, b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (number, number))
    )


def csv_bytes(headers, rows=()) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


# ---- the control: built the same way, small, it is read ----------------------------------------


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_a_small_workbook_built_like_the_bombs_is_read(world, importer):
    # Its header is found and its rows are checked (an empty data row set, or row errors), so
    # the refusals below come from the limits, not from the way the files are built.
    headers = HEADERS[importer]
    strings = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>A</t></si></sst>'
    )
    data = xlsx(sheet(headers, b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'), [strings])
    errors = run(importer, world, data, "small.xlsx")
    assert not {e.code for e in errors} & set(calendar_files.FILE_CODES), [str(e) for e in errors]


# ---- the unpacked size, judged before openpyxl opens the file --------------------------------------


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_a_200_mb_shared_string_is_refused_unopened(world, importer, openpyxl_never_opens):
    data = shared_string_bomb(HEADERS[importer])
    assert len(data) < 1 * MB  # about 200 KB
    errors, peak = measured(importer, world, data, "bomb.xlsx")
    code, message = refusal(errors)
    assert code == "xlsx_too_large"
    assert (
        message
        == "该工作簿解压后超过 40 MB，远超导入所需的数据量，系统不予打开。请将数据行复制到模板中再上传。"
    )
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_a_header_and_a_million_blank_rows_that_compress_1000_times_are_refused_unopened(
    world, importer, openpyxl_never_opens
):
    data = blank_rows(HEADERS[importer], numbered=False)
    assert len(data) < 100 * 1024
    errors, peak = measured(importer, world, data, "blank.xlsx")
    # 6 MB of `<row/>` in a few KB: a compression bomb by its ratio (IMPORT_MAX_RATIO), unopened.
    assert refusal(errors)[0] == "xlsx_too_large"
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_a_header_and_a_million_numbered_blank_rows_are_refused_unopened(
    world, importer, openpyxl_never_opens
):
    # `<row r="2"/>` … `<row r="1000001"/>` compresses only about 7 times (2.4 MB), under every ZIP
    # limit. openpyxl would parse every row just to open a sheet that states no size (the 15 s of
    # #10), so the row elements are counted in the raw bytes first, blank ones included.
    data = blank_rows(HEADERS[importer], numbered=True)
    errors, peak = measured(importer, world, data, "blank.xlsx")
    code, message = refusal(errors)
    assert code == "too_many_rows"
    assert f"表头以下超过 {CAPS[importer]} 行" in message
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


def test_one_member_that_compresses_too_well_is_refused_even_under_the_total(world, openpyxl_never_opens):
    # 30 MB of spaces (legal after the root element) stays under the 40 MB total but compresses
    # about 1,000 times.
    headers = HEADERS[loans]
    data = xlsx([*sheet(headers), b" " * (30 * MB)])
    assert (
        sum(m.file_size for m in zipfile.ZipFile(io.BytesIO(data)).infolist())
        < uploads.IMPORT_MAX_UNCOMPRESSED
    )
    assert refusal(run(loans, world, data, "ratio.xlsx"))[0] == "xlsx_too_large"


# ---- rows: streamed, blank ones counted, never read past the cap ------------------------------------


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_a_row_a_million_rows_down_is_refused_at_the_row_cap(world, importer):
    # The ZIP is small and honest; it is openpyxl's streaming reader that would produce a million
    # blank rows. Reading stops at the importer's cap, so memory stays flat.
    data = far_row(HEADERS[importer])
    errors, peak = measured(importer, world, data, "far.xlsx")
    code, message = refusal(errors)
    assert code == "too_many_rows"
    assert message.startswith(f"表头以下超过 {CAPS[importer]} 行") and "空行也计算在内" in message
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


@pytest.mark.parametrize("importer", TAKE_CSV, ids=lambda f: f.__name__)
def test_a_csv_with_a_header_and_a_million_blank_lines_is_refused_at_the_row_cap(world, importer):
    data = csv_bytes(HEADERS[importer]) + b"\r\n" * 1_000_000
    assert len(data) < tabular.MAX_FILE_SIZE
    errors, peak = measured(importer, world, data, "blank.csv")
    assert refusal(errors)[0] == "too_many_rows"
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


def test_the_row_cap_counts_blank_rows_and_stops_reading_there():
    # An endless supply of blank rows: a reader that did not stop at the cap would never return.
    def endless():
        yield ("日期", "类型", "名称")
        while True:
            yield ()

    numbered = tabular.numbered_rows(endless())
    assert tabular.find_header(numbered, lambda cells: bool(cells), 5) == (1, ("日期", "类型", "名称"))
    with pytest.raises(tabular.FileRefused) as caught:
        for _ in tabular.bounded_rows(numbered, header_row=1, max_rows=400):
            pass
    assert caught.value.code == "too_many_rows"


# ---- size and cell length ----------------------------------------------------------------------------


@pytest.mark.parametrize("importer", TAKE_CSV, ids=lambda f: f.__name__)
def test_a_csv_over_10_mb_is_refused_unread(world, importer):
    data = csv_bytes(HEADERS[importer]) + b"," * (10 * MB)
    code, message = refusal(run(importer, world, data, "big.csv"))
    assert code == "file_too_large"
    assert message == "文件超过 10 MB，请拆分成几个文件。"


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_an_xlsx_cell_of_5000_characters_is_refused(world, importer):
    headers = HEADERS[importer]
    long_cell = b'<row r="2"><c r="B2" t="inlineStr"><is><t>' + b"x" * 5000 + b"</t></is></c></row>"
    code, message = refusal(run(importer, world, xlsx(sheet(headers, long_cell)), "long.xlsx"))
    assert code == "cell_too_long"
    assert message == "第 2 行“B”列的单元格超过 1000 个字符；单元格不能这么长。"


@pytest.mark.parametrize("importer", TAKE_CSV, ids=lambda f: f.__name__)
@pytest.mark.parametrize("length", [5_000, 200_000])  # ours, and past the csv module's own 128 KB
def test_a_csv_cell_too_long_is_refused(world, importer, length):
    headers = HEADERS[importer]
    data = csv_bytes(headers, [["x" * length] + [""] * (len(headers) - 1)])
    code, message = refusal(run(importer, world, data, "long.csv"))
    assert code == "cell_too_long"
    assert "第 2 行" in message and "1000 个字符" in message


# ---- XML attacks: openpyxl parses with defusedxml ---------------------------------------------------


def test_openpyxl_uses_defusedxml():
    assert openpyxl.xml.DEFUSEDXML is True


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b"]>"
)


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_an_entity_expansion_bomb_is_refused_as_unreadable(world, importer):
    headers = HEADERS[importer]
    bomb = b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    data = xlsx(sheet(headers, bomb), prologue=BILLION_LAUGHS)
    errors, peak = measured(importer, world, data, "lol.xlsx")
    code, message = refusal(errors)
    assert code == "bad_file"
    assert "无法" in message  # the one unreadable-file message
    assert peak < MEMORY_CEILING, f"{peak / MB:.1f} MB"


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
def test_an_external_entity_is_never_resolved(world, importer, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    headers = HEADERS[importer]
    prologue = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://%s">]>' % str(secret).encode()
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
    errors = run(importer, world, xlsx(sheet(headers, row), prologue=prologue), "xxe.xlsx")
    assert refusal(errors)[0] == "bad_file"
    assert "TOP-SECRET" not in " ".join(str(e) for e in errors)


# ---- one message for a file that cannot be read ------------------------------------------------------


@pytest.mark.parametrize("importer", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "data",
    [
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,  # an old .xls
        b"PK\x03\x04garbage",  # a ZIP signature and nothing behind it
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # an image
    ],
    ids=["xls", "broken-zip", "png"],
)
def test_a_file_that_cannot_be_read_gets_the_one_message(world, importer, data):
    code, message = refusal(run(importer, world, data, "file.xlsx"))
    assert code == "bad_file"
    with translation.override("zh-hans"):
        assert message == tabular.unreadable_message(csv=importer in TAKE_CSV)
    assert message.startswith("无法")
