"""Reading the spreadsheets the system takes (households, existing loans, settlement lists, the
working-day calendar): one bounded reader, the cell readers and the row-error shape they share, so
every import reads dates and amounts, words its problems, and refuses a hostile file, the same way.

A file from outside is bounded before it is parsed (STYLE rule 14), by the limits of
core/uploads.py: its size; its type by content (an .xlsx is a ZIP, whatever the name says); for
an .xlsx, what its ZIP members declare they unpack to, in total and relative to their compressed
size, before openpyxl opens it (zipfile never unpacks a member past its declared size, so the
declaration bounds what can be read); then rows streamed one by one (openpyxl's read-only mode,
the CSV reader), every row after the header counted, blank ones too, and never read past the
importer's cap; every cell's length. openpyxl parses the XML with defusedxml (installed, so
`openpyxl.xml.DEFUSEDXML` is true): entity expansion and external entities are refused, and such
a file is unreadable like any damaged one."""

from __future__ import annotations

import csv
import datetime
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import openpyxl
from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from .uploads import (
    IMPORT_MAX_BYTES,
    IMPORT_MAX_CELL_CHARS,
    IMPORT_MAX_COLUMNS,
    IMPORT_MAX_RATIO,
    IMPORT_MAX_UNCOMPRESSED,
    IMPORT_RATIO_FROM,
)

logger = logging.getLogger(__name__)

MAX_FILE_SIZE = IMPORT_MAX_BYTES
# A title line or two above the header is common in cadres' own sheets ("五通村建档立卡户花名册").
HEADER_SEARCH_ROWS = 10
# Excel keeps 15 significant digits of a number; an 18-digit ID typed into a number cell is lost.
EXCEL_DIGITS = 15


@dataclass(frozen=True)
class RowError:
    """One problem, where the cadre will find it: `row` as Excel numbers it (None: the whole
    file) and `column` as the header reads ("" when it concerns the whole row)."""

    row: int | None
    column: str
    message: str
    code: str = "invalid"

    def __str__(self):
        if self.row is None:
            return self.message
        if self.column:
            return _("Row %(row)d, column “%(column)s”: %(message)s") % {
                "row": self.row,
                "column": self.column,
                "message": self.message,
            }
        return _("Row %(row)d: %(message)s") % {"row": self.row, "message": self.message}


class CellError(Exception):
    def __init__(self, message, code: str = "invalid"):
        super().__init__(message)
        self.message = str(message)
        self.code = code


class FileError(Exception):
    pass


# The codes of refusals of a whole file: nothing of it is read after one of them.
FILE_CODES = ("file_too_large", "xlsx_too_large", "too_many_rows", "cell_too_long", "bad_file")


class FileRefused(Exception):
    """The whole file is refused before (or while) its rows are read; `code` is one of FILE_CODES.
    As a RowError it concerns the whole file (row None), which is how every import and the API
    tell a refusal of the file from problems of its rows."""

    def __init__(self, message, code: str):
        super().__init__(message)
        self.message = str(message)
        self.code = code

    def row_error(self) -> RowError:
        return RowError(None, "", self.message, self.code)


def normalise(text: str) -> str:
    """Full-width digits, letters and brackets to ASCII, all spaces removed: for codes and choices."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def header_key(text) -> str:
    return normalise(str(text)) if text is not None else ""


def header_map(cells, columns, *, fold_case: bool = False) -> tuple[dict[str, int], list[str]]:
    """Where each of an import's `columns` is in one candidate header row: column key → index of
    the first cell that names it, and the headers of the columns named again further right (the
    later cells are not read). A cell names a column by its `header` or one of its `aliases` (if
    it has any), compared after `normalise`, and regardless of case with `fold_case`. The
    column's English code (`key`, as the API and older templates name it) is accepted too: the
    templates are in Chinese, and a file with the codes as headers still imports."""

    def fold(text: str) -> str:
        return text.lower() if fold_case else text

    lookup = {}
    for column in columns:
        # The code first, so a Chinese header or alias that happens to read the same wins.
        lookup[fold(header_key(column.key))] = column
    for column in columns:
        for name in (column.header, *getattr(column, "aliases", ())):
            lookup[fold(header_key(name))] = column
    found: dict[str, int] = {}
    twice = []
    for index, text in enumerate(cells or ()):
        column = lookup.get(fold(header_key(text)))
        if column is None:
            continue
        if column.key in found:
            twice.append(column.header)
        else:
            found[column.key] = index
    return found, twice


def is_blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def is_number(raw) -> bool:
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


def cell_text(raw) -> str:
    """A cell as text. Whole numbers lose the ".0" Excel gives them."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime.datetime):
        return raw.date().isoformat() if raw.time() == datetime.time() else raw.isoformat(sep=" ")
    return str(raw).strip()


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d%H:%M:%S")


def cell_date(raw) -> datetime.date:
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = normalise(cell_text(raw))
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(
        _("“%(value)s” is not a date; write it like 2020-12-31.") % {"value": cell_text(raw)}, "invalid_date"
    )


def cell_money(raw) -> Decimal:
    if is_number(raw):
        # Amounts computed in Excel are binary floats; money is kept to the fen (STYLE rule 3).
        return Decimal(str(raw)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = normalise(cell_text(raw)).replace(",", "").removesuffix("元")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError(
            _("“%(value)s” is not an amount; write digits only, like 12000 or 12000.50.")
            % {"value": cell_text(raw)},
            "invalid_amount",
        ) from None
    if not value.is_finite():
        raise CellError(_("“%(value)s” is not an amount.") % {"value": cell_text(raw)}, "invalid_amount")
    return value


# ---------------------------------------------------------------------------------------------
# The bounded reader


def unreadable_message(*, csv: bool = True) -> str:
    """The one message for a file that cannot be read: damaged, a different format, an old .xls,
    a workbook whose XML is refused."""
    if not csv:
        return _(
            "The file cannot be read as an Excel workbook (.xlsx). If it is an old .xls file or a "
            "WPS file, open it and save it as “Excel Workbook (*.xlsx)”, then upload it again."
        )
    return _(
        "The file cannot be read as a CSV file (UTF-8 or GBK) or an Excel workbook (.xlsx). Save it "
        "from Excel or WPS as “CSV UTF-8” or “Excel Workbook (*.xlsx)” and upload it again."
    )


def file_too_large_message() -> str:
    return _("The file is larger than %(mb)d MB; split it into several files.") % {
        "mb": MAX_FILE_SIZE // (1024 * 1024)
    }


def too_many_rows_message(max_rows: int) -> str:
    return _(
        "The file has more than %(n)d rows after the header (blank rows count too); delete the "
        "empty rows below the data, or split it into several files."
    ) % {"n": max_rows}


def _unreadable(csv_allowed: bool) -> FileRefused:
    return FileRefused(unreadable_message(csv=csv_allowed), "bad_file")


def _xlsx_too_large() -> FileRefused:
    return FileRefused(
        _(
            "The workbook unpacks to more than %(mb)d MB, far more than the rows an import takes; "
            "it is not opened. Copy the rows into the template and upload that."
        )
        % {"mb": IMPORT_MAX_UNCOMPRESSED // (1024 * 1024)},
        "xlsx_too_large",
    )


def _read_bounded(file) -> bytes:
    if getattr(file, "size", None) and file.size > MAX_FILE_SIZE:
        raise FileRefused(file_too_large_message(), "file_too_large")
    file.seek(0)
    data = file.read(MAX_FILE_SIZE + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_FILE_SIZE:
        raise FileRefused(file_too_large_message(), "file_too_large")
    return data


# A row element, with or without a namespace prefix (x:row, from the .NET OpenXML SDK).
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
SCAN_CHUNK = 64 * 1024


def _more_rows_than(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bool:
    """Whether a part holds more than `limit` row elements, counted in the raw bytes as they
    unpack (at most the declared size, already bounded) and no further than the limit, without
    parsing any XML."""
    count, tail = 0, b""
    with archive.open(member) as stream:
        while count <= limit and (chunk := stream.read(SCAN_CHUNK)):
            window = tail + chunk
            # A match wholly inside the carried-over tail was counted with the previous chunk.
            count += len(ROW_TAG.findall(window)) - len(ROW_TAG.findall(tail))
            tail = window[-32:]
    return count > limit


def _check_archive(data: bytes, csv_allowed: bool, max_rows: int, search_rows: int) -> None:
    """The ZIP's own declarations, before anything is unpacked; then the row elements of every
    part, counted in the raw bytes: openpyxl parses a whole sheet that states no size just to
    open it (15 s for a million blank rows), so a sheet with more rows than the cap is refused
    before openpyxl sees it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _unreadable(csv_allowed) from None
    if sum(m.file_size for m in members) > IMPORT_MAX_UNCOMPRESSED:
        raise _xlsx_too_large()
    for member in members:
        if member.file_size > IMPORT_RATIO_FROM and member.file_size > IMPORT_MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise _xlsx_too_large()
    if "xl/workbook.xml" not in {m.filename for m in members}:
        # A Word document, an APK, a plain ZIP: a ZIP, but no workbook.
        raise _unreadable(csv_allowed)
    try:
        for member in members:
            # The header may stand as low as `search_rows`; more row elements than that and the
            # cap can only be refused later, when openpyxl has parsed them all.
            if member.filename.endswith(".xml") and _more_rows_than(archive, member, search_rows + max_rows):
                raise FileRefused(too_many_rows_message(max_rows), "too_many_rows")
    # A member that does not unpack to what it declares (a bad CRC, a broken stream).
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError):
        raise _unreadable(csv_allowed) from None


def _open_xlsx(data: bytes, csv_allowed: bool, max_rows: int, search_rows: int):
    _check_archive(data, csv_allowed, max_rows, search_rows)
    try:
        # keep_links=False: links to other workbooks are never read.
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    # A damaged or foreign file (or XML defusedxml refuses) can fail anywhere inside openpyxl or
    # zipfile; every such failure means the same thing to the person uploading it.
    except Exception as e:
        logger.info("Import: workbook refused by openpyxl (%s)", type(e).__name__)
        raise _unreadable(csv_allowed) from None


def _sheet_rows(ws) -> Iterator[tuple]:
    # Some programs write a wrong sheet size; without it every row is read (none silently lost),
    # and max_col keeps a row that claims 16,384 columns from becoming 16,384 values.
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    return ws.iter_rows(max_col=IMPORT_MAX_COLUMNS, values_only=True)


def _decode(data: bytes) -> str | None:
    # Excel and WPS on Chinese Windows save CSV in GB18030 (GBK); everything else writes UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _csv_rows(text: str) -> Iterator[list]:
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            # The csv module's own cap on a field (128 KB) is passed long after ours.
            if "field limit" in str(e):
                raise FileRefused(_cell_too_long_message(reader.line_num, None), "cell_too_long") from None
            raise _unreadable(True) from None
        yield cells[:IMPORT_MAX_COLUMNS]


def _cell_too_long_message(row: int, column: int | None) -> str:
    if column is None:
        return _("Row %(row)d holds a cell longer than %(n)d characters; no cell may be that long.") % {
            "row": row,
            "n": IMPORT_MAX_CELL_CHARS,
        }
    return _(
        "The cell in row %(row)d, column %(column)s holds more than %(n)d characters; "
        "no cell may be that long."
    ) % {"row": row, "column": get_column_letter(column), "n": IMPORT_MAX_CELL_CHARS}


def numbered_rows(rows: Iterable, *, csv_allowed: bool = True) -> Iterator[tuple[int, tuple]]:
    """(row number as the spreadsheet numbers it, cells) for every row, blank ones included, each
    cell's length checked. A failure of the underlying reader is an unreadable file."""
    iterator = iter(rows)
    number = 0
    while True:
        try:
            cells = next(iterator)
        except StopIteration:
            return
        except FileRefused:
            raise
        # A sheet can be damaged half-way through, or hold XML defusedxml refuses.
        except Exception as e:
            logger.info("Import: rows refused while streaming (%s)", type(e).__name__)
            raise _unreadable(csv_allowed) from None
        number += 1
        cells = tuple(cells or ())
        for position, value in enumerate(cells, start=1):
            if isinstance(value, str) and len(value) > IMPORT_MAX_CELL_CHARS:
                raise FileRefused(_cell_too_long_message(number, position), "cell_too_long")
        yield number, cells


def bounded_rows(numbered: Iterator[tuple[int, tuple]], *, header_row: int, max_rows: int):
    """The rows after the header, refused (too_many_rows) as soon as there are more than
    `max_rows` of them, blank rows counting like any other: a file that declares a million rows
    is read only up to the cap."""
    for number, cells in numbered:
        if number - header_row > max_rows:
            raise FileRefused(too_many_rows_message(max_rows), "too_many_rows")
        yield number, cells


def find_header(
    numbered: Iterator[tuple[int, tuple]], is_header: Callable[[tuple], bool], search_rows: int
) -> tuple[int, tuple] | None:
    for number, cells in numbered:
        if is_header(cells):
            return number, cells
        if number >= search_rows:
            return None
    return None


@dataclass
class Table:
    """A file whose header row was found: the sheet's title ("" for a CSV), the header row's
    number and cells, and its data rows, streamed and bounded (see `bounded_rows`)."""

    kind: str  # "csv" or "xlsx"
    sheet: str
    header_row: int
    header: tuple
    rows: Iterator[tuple[int, tuple]]


@contextmanager
def read_table(
    file,
    *,
    is_header: Callable[[tuple], bool],
    max_rows: int,
    csv_allowed: bool = True,
    all_sheets: bool = False,
    search_rows: int = HEADER_SEARCH_ROWS,
):
    """Every import's way into a file: yields a Table, or None when no header row is found in the
    first `search_rows` rows (of the first sheet, or of any sheet with `all_sheets`). Raises
    FileRefused, before any row is parsed, for a file too large, not CSV/XLSX (by content), an
    .xlsx that unpacks to too much, and, while the rows are read, for too many rows or a cell too
    long. The workbook is closed when the block ends."""
    data = _read_bounded(file)
    if data.startswith(b"PK\x03\x04"):
        workbook = _open_xlsx(data, csv_allowed, max_rows, search_rows)
        try:
            sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]  # not chart sheets
            for ws in sheets if all_sheets else sheets[:1]:
                numbered = numbered_rows(_sheet_rows(ws), csv_allowed=csv_allowed)
                found = find_header(numbered, is_header, search_rows)
                if found is not None:
                    header_row, header = found
                    rows = bounded_rows(numbered, header_row=header_row, max_rows=max_rows)
                    yield Table("xlsx", ws.title, header_row, header, rows)
                    return
            yield None
        finally:
            workbook.close()
        return
    # Text never holds NUL bytes; executables, images, old .xls files and archives do.
    text = _decode(data) if csv_allowed and b"\x00" not in data else None
    if not text or not text.strip():
        raise _unreadable(csv_allowed)
    numbered = numbered_rows(_csv_rows(text))
    found = find_header(numbered, is_header, search_rows)
    if found is None:
        yield None
        return
    header_row, header = found
    yield Table(
        "csv", "", header_row, header, bounded_rows(numbered, header_row=header_row, max_rows=max_rows)
    )
