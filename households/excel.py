"""Excel import and export of households, in the layout village cadres already keep: one row per
member, a Chinese header row, rows sharing a registration number (户编号) forming one household.

The headers and the words in the choice columns (未脱贫, 户主, 有劳动能力 …) are the file format,
not interface text, so they are Chinese literals and are not translated: a file must read the same
whatever language the page is shown in. Messages about the file are translated as usual.

Importing validates every row and reports every problem at once (row number as Excel shows it,
column, message). The rules are not written twice: each cell goes through the model field's own
`clean()`, and each household is then passed to `household_create` inside a savepoint, so whatever
the service refuses is reported against the household's rows too. The preview rolls all of that
back; the commit is the same run, kept only when not a single row failed."""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from accounts.models import OrgUnit
from accounts.scoping import visible_villages
from core.audit import audit
from core.cells import set_xlsx_value, xlsx_cell
from core.exceptions import ApplicationError, NotPermitted
from core.tabular import (
    EXCEL_DIGITS,
    FileRefused,
    RowError,
    header_map,
    read_table,
    unreadable_message,
)
from core.tabular import CellError as _CellError
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import is_blank as _blank
from core.tabular import is_number as _is_number
from core.tabular import normalise as _normalise

from . import idnumbers
from .models import Household, Member
from .permissions import can_see_full_id
from .services import household_create

logger = logging.getLogger(__name__)

# Every household goes through household_create twice (the preview's dry run and the commit), at
# about 2.5 ms a row on a local PostgreSQL: 5,000 rows (a township) take some 13 s per step, well
# inside a web request. A whole county is imported township by township.
MAX_ROWS = 5_000
# A title line or two above the header is common in cadres' own sheets ("五通村建档立卡户花名册").
HEADER_SEARCH_ROWS = 10
# Excel stores numbers as doubles: anything longer than this has already lost digits.
QUERY_CHUNK = 900  # stays under SQLite's parameter limit in the local setup
SHEET_DATA = "户成员"
SHEET_HELP = "填写说明"
SHEET_VILLAGES = "村名单"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False  # the column must be in the header row
    household: bool = False  # a household-level value, read from the head's row
    width: int = 12


COLUMNS = (
    Column("registration_no", "户编号", ("户码", "户编码", "建档立卡户编号"), True, True, 20),
    Column("village", "所属村", ("村", "行政村", "村名", "所在村"), True, True, 14),
    Column("poverty_status", "贫困状态", ("户类型", "贫困户状态"), True, True, 16),
    Column("exited_on", "脱贫日期", ("脱贫时间", "脱贫年月日"), False, True, 12),
    Column("address", "家庭住址", ("住址", "地址"), False, True, 28),
    Column("annual_income", "家庭年收入(元)", ("家庭年收入", "年收入", "年收入(元)"), False, True, 14),
    Column("assets", "家庭资产(元)", ("家庭资产", "资产", "资产(元)"), False, True, 14),
    Column("debts", "家庭负债(元)", ("家庭负债", "负债", "负债(元)"), False, True, 14),
    Column("business", "主要产业", ("产业", "经营项目", "主要经营项目"), False, True, 16),
    Column("name", "姓名", ("成员姓名",), True, False, 10),
    Column("id_number", "身份证号", ("身份证号码", "证件号码", "公民身份号码"), True, False, 22),
    Column("relation", "与户主关系", ("与户主的关系",), True, False, 10),
    Column("phone", "联系电话", ("电话", "手机", "手机号", "手机号码", "电话号码"), False, False, 14),
    Column("labour_capacity", "劳动能力", ("劳动技能", "劳动力状况"), True, False, 14),
)
BY_KEY = {c.key: c for c in COLUMNS}
HOUSEHOLD_KEYS = [c.key for c in COLUMNS if c.household]
MEMBER_KEYS = ("name", "phone", "relation", "labour_capacity")
# Money columns are read as amounts, every other household column as text; both then go through
# the model field's own clean().
MONEY = ("annual_income", "assets", "debts")

STATUS_WORDS = {
    Household.PovertyStatus.NOT_EXITED: "未脱贫",
    Household.PovertyStatus.EXITED: "已脱贫",
    Household.PovertyStatus.MONITORED_EDGE: "边缘易致贫户",
    Household.PovertyStatus.MONITORED_SUDDEN: "突发严重困难户",
}
RELATION_WORDS = {
    Member.Relation.HEAD: "户主",
    Member.Relation.SPOUSE: "配偶",
    Member.Relation.CHILD: "子女",
    Member.Relation.PARENT: "父母",
    Member.Relation.GRANDCHILD: "孙子女",
    Member.Relation.SIBLING: "兄弟姐妹",
    Member.Relation.OTHER: "其他",
}
LABOUR_WORDS = {
    Member.Labour.FULL: "有劳动能力",
    Member.Labour.PARTIAL: "弱劳动能力",
    Member.Labour.NONE: "无劳动能力",
}
# Other spellings found in county rosters and in the national 建档立卡 system's exports. Only
# words with one obvious meaning are listed; anything else is reported, never guessed.
STATUS_ALIASES = {
    "边缘易致贫": Household.PovertyStatus.MONITORED_EDGE,
    "突发严重困难": Household.PovertyStatus.MONITORED_SUDDEN,
}
RELATION_ALIASES = {
    "本人": Member.Relation.HEAD,
    "妻子": Member.Relation.SPOUSE,
    "丈夫": Member.Relation.SPOUSE,
    "之妻": Member.Relation.SPOUSE,
    "之夫": Member.Relation.SPOUSE,
    "儿子": Member.Relation.CHILD,
    "女儿": Member.Relation.CHILD,
    "之子": Member.Relation.CHILD,
    "之女": Member.Relation.CHILD,
    "父亲": Member.Relation.PARENT,
    "母亲": Member.Relation.PARENT,
    "之父": Member.Relation.PARENT,
    "之母": Member.Relation.PARENT,
    "孙子": Member.Relation.GRANDCHILD,
    "孙女": Member.Relation.GRANDCHILD,
    "之孙子": Member.Relation.GRANDCHILD,
    "之孙女": Member.Relation.GRANDCHILD,
}
LABOUR_ALIASES = {
    "普通劳动力": Member.Labour.FULL,
    "技能劳动力": Member.Labour.FULL,
    "弱劳动力": Member.Labour.PARTIAL,
    "半劳动力": Member.Labour.PARTIAL,
    "弱劳动力或半劳动力": Member.Labour.PARTIAL,
    "丧失劳动力": Member.Labour.NONE,
    "无劳动力": Member.Labour.NONE,
}


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class HouseholdPreview:
    """One household found in the file, ready for `household_create`."""

    registration_no: str
    rows: list[int] = field(default_factory=list)
    head_row: int | None = None
    fields: dict = field(default_factory=dict)
    members: list[dict] = field(default_factory=list)
    member_rows: list[int] = field(default_factory=list)
    ok: bool = True

    @property
    def village(self) -> OrgUnit | None:
        return self.fields.get("village")

    @property
    def poverty_status_label(self) -> str:
        return STATUS_WORDS.get(self.fields.get("poverty_status"), "")

    @property
    def head_name(self) -> str:
        return next((m["name"] for m in self.members if m.get("is_head")), "")

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def first_row(self) -> int:
        return self.rows[0]


@dataclass
class ImportPreview:
    households: list[HouseholdPreview] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)
    sheet: str = ""

    @property
    def member_count(self) -> int:
        return sum(h.member_count for h in self.households)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.households)


class ImportRejected(ApplicationError):
    """The file has errors; nothing was written. The errors are on `preview`."""

    def __init__(self, preview: ImportPreview):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(preview.errors)},
            "import_rejected",
            {"errors": [{"row": e.row, "column": e.column, "message": e.message} for e in preview.errors]},
        )
        self.preview = preview


# ---------------------------------------------------------------------------------------------
# Reading cells


def _code_text(raw, column: str) -> str:
    """Text that must survive digit for digit (a registration number, a village code, a phone)."""
    if _is_number(raw) and abs(raw) >= 10**EXCEL_DIGITS:
        raise _CellError(
            _(
                "“%(column)s” is a number cell and Excel keeps only 15 significant digits; "
                "set the column to Text and type the values again."
            )
            % {"column": column},
            "number_cell",
        )
    return _normalise(_text(raw))


def _id_number(raw) -> idnumbers.IdInfo:
    column = BY_KEY["id_number"].header
    if _is_number(raw):
        # Never converted: the digits Excel dropped cannot be recovered (DOMAIN §2).
        raise _CellError(
            _(
                "“%(column)s” is a number cell and Excel keeps only 15 significant digits; "
                "set the column to Text and type the values again."
            )
            % {"column": column},
            "id_not_text",
        )
    try:
        return idnumbers.parse(_normalise(_text(raw)))
    except ValidationError as e:
        raise _CellError("；".join(e.messages), e.code or "invalid") from None


def _choice(raw, words: dict[str, str], aliases: dict[str, str]) -> str:
    word = _normalise(_text(raw))
    for value, known in words.items():
        if word == known:
            return value
    if word in aliases:
        return aliases[word]
    # Only the template's words are suggested; the aliases are accepted quietly.
    raise _CellError(
        _("“%(value)s” is not one of: %(allowed)s.")
        % {"value": _text(raw), "allowed": "、".join(words.values())},
        "invalid_choice",
    )


def _model_clean(model, name: str, value):
    """The model field's own validation (length, choices, minimum …) with Django's messages."""
    try:
        return model._meta.get_field(name).clean(value, None)
    except ValidationError as e:
        raise _CellError("；".join(e.messages), e.code or "invalid") from None


# ---------------------------------------------------------------------------------------------
# Reading the workbook


@dataclass
class _Row:
    number: int
    values: dict = field(default_factory=dict)  # parsed values of the cells that were filled and valid
    bad: set = field(default_factory=set)  # keys whose cell was filled but invalid


def _is_header(cells) -> bool:
    # Three known headers make a header row; a title line has at most one.
    return len(header_map(cells, COLUMNS)[0]) >= 3


def _no_header() -> RowError:
    return RowError(
        None,
        "",
        _(
            "No header row found in the first %(n)d rows of any sheet. The header row must name the "
            "columns, for example %(columns)s; download the template to see the layout."
        )
        % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(f"「{c.header}」" for c in COLUMNS if c.required)},
        "bad_file",
    )


def _read_rows(rows, columns: dict[str, int], errors: list[RowError]) -> Iterator[_Row]:
    """The data rows, streamed; `rows` (core/tabular.py) refuses the file past MAX_ROWS rows."""
    for number, cells in rows:
        raw = {key: (cells[i] if i < len(cells) else None) for key, i in columns.items()}
        if all(_blank(v) for v in raw.values()):
            continue
        yield _parse_row(number, raw, errors)


def _parse_row(number: int, raw: dict, errors: list[RowError]) -> _Row:
    row = _Row(number)
    for key, value in raw.items():
        column = BY_KEY[key]
        if _blank(value):
            continue
        try:
            row.values[key] = _parse_cell(key, value)
        except _CellError as e:
            row.bad.add(key)
            errors.append(RowError(number, column.header, e.message, e.code))
    # Member values are needed on every row; household values only on the head's (checked later).
    for key in ("registration_no", "name", "id_number", "relation", "labour_capacity"):
        if key not in row.values and key not in row.bad:
            row.bad.add(key)
            message = _("This cell must be filled in.")
            if key == "registration_no":
                # Rosters often merge the household's cells, which leaves all but the first row empty.
                message = _(
                    "Write the household's 户编号 on every member's row. Merged cells count as empty: "
                    "unmerge them and fill in every row."
                )
            errors.append(RowError(number, BY_KEY[key].header, message, "required"))
    return row


def _parse_cell(key: str, value):
    header = BY_KEY[key].header
    match key:
        case "id_number":
            return _id_number(value)
        case "registration_no":
            return _model_clean(Household, key, _code_text(value, header))
        case "village":
            return _code_text(value, header)  # resolved against the user's villages later
        case "poverty_status":
            return _choice(value, STATUS_WORDS, STATUS_ALIASES)
        case "relation":
            return _choice(value, RELATION_WORDS, RELATION_ALIASES)
        case "labour_capacity":
            return _choice(value, LABOUR_WORDS, LABOUR_ALIASES)
        case "exited_on":
            return _date(value)
        case "phone":
            return _model_clean(Member, key, _code_text(value, header))
        case "name":
            return _model_clean(Member, key, _text(value))
        case _ if key in MONEY:
            return _model_clean(Household, key, _money(value))
        case _:
            return _model_clean(Household, key, _text(value))


# ---------------------------------------------------------------------------------------------
# Checks across rows


class _Villages:
    """Village lookup by code, by name, or by township and village name, within the user's area."""

    def __init__(self, user):
        self.by_key: dict[str, set[OrgUnit]] = defaultdict(set)
        for village in visible_villages(user):
            for key in (village.code, village.name, f"{village.parent.name}{village.name}"):
                self.by_key[_normalise(key)].add(village)

    def resolve(self, values: Iterable[str]) -> dict[str, OrgUnit | RowError]:
        """Each value to its village, or to the error (without a row) to report."""
        header = BY_KEY["village"].header
        result: dict[str, OrgUnit | RowError] = {}
        unknown = []
        for value in set(values):
            matches = self.by_key.get(value, set())
            if len(matches) == 1:
                result[value] = next(iter(matches))
            elif matches:
                result[value] = RowError(
                    None,
                    header,
                    _("Several villages are called “%(name)s”; write the village code instead (%(codes)s).")
                    % {"name": value, "codes": "、".join(sorted(v.code for v in matches))},
                    "ambiguous_village",
                )
            else:
                unknown.append(value)
        elsewhere = set()
        for chunk in _chunks(unknown):
            elsewhere.update(
                OrgUnit.objects.filter(
                    Q(code__in=chunk) | Q(name__in=chunk), kind=OrgUnit.Kind.VILLAGE
                ).values_list("code", "name")
            )
        elsewhere_keys = {k for pair in elsewhere for k in pair}
        for value in unknown:
            if value in elsewhere_keys:
                result[value] = RowError(
                    None,
                    header,
                    _(
                        "Village “%(name)s” is not in your area; you can only import households "
                        "of your own villages."
                    )
                    % {"name": value},
                    "out_of_scope",
                )
            else:
                result[value] = RowError(
                    None,
                    header,
                    _(
                        "There is no village “%(name)s”; write the village name or code as on "
                        "the “村名单” sheet of the template."
                    )
                    % {"name": value},
                    "unknown_village",
                )
        return result


def _chunks(items: list, size: int = QUERY_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error(row: int, key: str, message, code: str) -> RowError:
    return RowError(row, BY_KEY[key].header, str(message), code)


def _group(rows: list[_Row], villages: _Villages, errors: list[RowError]) -> list[HouseholdPreview]:
    """Rows into households, in the order the file first mentions them."""
    village_of = villages.resolve(r.values["village"] for r in rows if "village" in r.values)
    by_reg: dict[str, list[_Row]] = {}
    for row in rows:
        if "village" in row.values:
            resolved = village_of[row.values["village"]]
            if isinstance(resolved, RowError):
                errors.append(RowError(row.number, resolved.column, resolved.message, resolved.code))
                row.bad.add("village")
                del row.values["village"]
            else:
                row.values["village"] = resolved
        if "registration_no" in row.values:
            by_reg.setdefault(row.values["registration_no"], []).append(row)
    return [_household(reg, group, errors) for reg, group in by_reg.items()]


def _household(reg: str, group: list[_Row], errors: list[RowError]) -> HouseholdPreview:
    """One head; household values from the head's row; other rows empty or the same there."""
    household = HouseholdPreview(registration_no=reg, rows=[r.number for r in group])
    found: list[RowError] = []
    heads = [r for r in group if r.values.get("relation") == Member.Relation.HEAD]
    # An unreadable relation cell is reported already; "no head" would only repeat it.
    if not heads and not any("relation" in r.bad for r in group):
        message = _("Household %(reg)s has no head: write “户主” in this column on the head's row.")
        found.append(_error(group[0].number, "relation", message % {"reg": reg}, "household_head"))
    for extra in heads[1:]:
        message = _("Household %(reg)s already has a head on row %(row)d; a household has exactly one head.")
        found.append(
            _error(extra.number, "relation", message % {"reg": reg, "row": heads[0].number}, "household_head")
        )
    head = heads[0] if heads else None
    if head is not None:
        household.head_row = head.number
        household.fields = {k: head.values[k] for k in HOUSEHOLD_KEYS if k in head.values}
        for key in ("village", "poverty_status"):
            if key not in head.values and key not in head.bad:
                found.append(_error(head.number, key, _("Fill in this cell on the head's row."), "required"))
        message = _(
            "Differs from the head's row (row %(row)d). A household's values are read from the head's "
            "row: leave this cell empty or make it the same."
        ) % {"row": head.number}
        for row in group:
            for key in HOUSEHOLD_KEYS:
                if row is not head and key in row.values and key in head.values:
                    if row.values[key] != head.values[key]:
                        found.append(_error(row.number, key, message, "contradiction"))
    # The head first: the order household_create and the household page show members in.
    for row in sorted(group, key=lambda r: r is not head):
        info = row.values.get("id_number")
        member = {k: row.values[k] for k in MEMBER_KEYS if k in row.values}
        member["id_number"] = info.number if info else None
        member["is_head"] = row is head
        household.members.append(member)
        household.member_rows.append(row.number)
    household.ok = not found and not any(r.bad for r in group)
    errors.extend(found)
    return household


def _check_id_numbers(rows: list[_Row], errors: list[RowError]) -> None:
    """No number twice in the file, and none that is already registered (by its keyed hash)."""
    column = BY_KEY["id_number"].header
    first: dict[str, int] = {}
    for row in rows:
        info = row.values.get("id_number")
        if info is None:
            continue
        if info.number in first:
            row.bad.add("id_number")
            errors.append(
                RowError(
                    row.number,
                    column,
                    _("This ID number is also on row %(row)d; one person can be in one household only.")
                    % {"row": first[info.number]},
                    "duplicate_in_file",
                )
            )
        else:
            first[info.number] = row.number
    hashes = {idnumbers.lookup_hash(number): row for number, row in first.items()}
    registered = set()
    for chunk in _chunks(list(hashes)):
        registered.update(
            Member.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", flat=True)
        )
    by_number = {r.number: r for r in rows}
    for digest in registered:
        row = by_number[hashes[digest]]
        row.bad.add("id_number")
        errors.append(
            RowError(
                row.number,
                column,
                _(
                    "This ID number is already registered in the system; one person can be in "
                    "one household only."
                ),
                "duplicate_id_number",
            )
        )


def _check_registration_numbers(households: list[HouseholdPreview], errors: list[RowError]) -> None:
    regs = [h.registration_no for h in households]
    existing = set()
    for chunk in _chunks(regs):
        existing.update(
            Household.objects.filter(registration_no__in=chunk).values_list("registration_no", flat=True)
        )
    for household in households:
        if household.registration_no in existing:
            household.ok = False
            errors.append(
                RowError(
                    household.first_row,
                    BY_KEY["registration_no"].header,
                    _("Household %(reg)s is already registered in the system.")
                    % {"reg": household.registration_no},
                    "duplicate_registration_no",
                )
            )


# ---------------------------------------------------------------------------------------------
# Running household_create


FIELD_COLUMN = {c.key: c.header for c in COLUMNS} | {
    "is_head": BY_KEY["relation"].header,
    "id_info": BY_KEY["id_number"].header,
}


def _service_errors(household: HouseholdPreview, exc: Exception) -> list[RowError]:
    """What household_create refused, placed on the household's rows. The service names the field
    ("exited_on", "members", "members.<i>.id_number"); `i` is the member's place in the list it was
    given, which is `household.member_rows` in the same order."""
    head = household.head_row or household.first_row
    code = getattr(exc, "code", None) or "invalid"

    def place(name: str) -> tuple[int, str]:
        if name.startswith("members."):
            _members, index, member_field = (name.split(".") + ["", ""])[:3]
            if index.isdigit() and int(index) < len(household.member_rows):
                return household.member_rows[int(index)], FIELD_COLUMN.get(member_field, "")
        if name == "members":
            return head, BY_KEY["relation"].header
        return head, FIELD_COLUMN.get(name, "")

    if isinstance(exc, ApplicationError):
        row, column = place(exc.field or "")
        return [RowError(row, column, str(exc.message), code)]
    if isinstance(exc, ValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        return [
            RowError(*place("" if name == NON_FIELD_ERRORS else name), message, code)
            for name, messages in fields.items()
            for message in messages
        ]
    # IntegrityError: another user registered the same household or person a moment ago.
    message = _(
        "This household or one of its members was registered by someone else meanwhile; "
        "upload the file again."
    )
    return [RowError(head, "", message, "conflict")]


def _create_all(households: list[HouseholdPreview], *, user, reason: str, errors: list[RowError]) -> int:
    """household_create for each household, each in its own savepoint so one refusal does not hide
    the next. Call inside a transaction; it is the caller's to keep or roll back."""
    created = 0
    for household in households:
        if not household.ok:
            continue
        try:
            with transaction.atomic():
                household_create(
                    acting_user=user, members=household.members, reason=reason, **household.fields
                )
        except NotPermitted:
            raise
        except (ApplicationError, ValidationError, IntegrityError) as e:
            household.ok = False
            errors.extend(_service_errors(household, e))
        else:
            created += 1
    return created


def _read_sheet(table, preview: ImportPreview) -> list[_Row]:
    """The data rows of the sheet with the header row; header problems end the reading."""
    errors = preview.errors
    header_row = table.header_row
    columns, twice = header_map(table.header, COLUMNS)
    preview.sheet = table.sheet
    for header in twice:
        message = _("This column appears twice in the header row; keep one.")
        errors.append(RowError(header_row, header, message, "duplicate_column"))
    missing = [c for c in COLUMNS if c.required and c.key not in columns]
    for column in missing:
        message = _("This required column is missing from the header row.")
        errors.append(RowError(header_row, column.header, message, "missing_column"))
    if missing or twice:
        return []
    rows = list(_read_rows(table.rows, columns, errors))
    if not rows:
        errors.append(RowError(None, "", _("The sheet has a header row but no data rows."), "empty"))
    return rows


def _read(file, *, user) -> ImportPreview:
    """Every check that needs no writing: cells, households, duplicates, what is already registered."""
    preview = ImportPreview()
    try:
        # Bounded before it is parsed, like every import (core/tabular.py); only .xlsx is taken.
        with read_table(
            file,
            is_header=_is_header,
            max_rows=MAX_ROWS,
            csv_allowed=False,
            all_sheets=True,
            search_rows=HEADER_SEARCH_ROWS,
        ) as table:
            if table is None:
                preview.errors.append(_no_header())
                return preview
            rows = _read_sheet(table, preview)
    except FileRefused as e:
        # The whole file is refused; problems of rows read before the refusal do not matter.
        preview.errors = [e.row_error()]
        return preview
    # A bug of ours while reading, not a hostile file: logged, and answered like an unreadable one.
    except Exception:
        logger.warning("Household import: unreadable workbook", exc_info=True)
        preview.errors.append(RowError(None, "", unreadable_message(csv=False), "bad_file"))
        return preview
    preview.rows = len(rows)
    if not rows:
        return preview
    _check_id_numbers(rows, preview.errors)
    preview.households = _group(rows, _Villages(user), preview.errors)
    _check_registration_numbers(preview.households, preview.errors)
    return preview


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1)))


def parse_workbook(file, *, user) -> ImportPreview:
    """Read and check every row, then try every household against `household_create` and roll all
    of it back. Nothing is written."""
    preview = _read(file, user=user)
    if preview.households:
        with transaction.atomic():
            _create_all(preview.households, user=user, reason="", errors=preview.errors)
            transaction.set_rollback(True)
    preview.errors = _sorted(preview.errors)
    return preview


@transaction.atomic
def import_commit(*, acting_user, file, filename: str) -> int:
    """Import every household of the file, or none: any error rolls everything back and raises
    ImportRejected with all the errors. Returns the number of households created."""
    preview = _read(file, user=acting_user)
    if not preview.households and not preview.errors:
        preview.errors.append(RowError(None, "", _("The file has no households."), "empty"))
    reason = _("Excel import %(filename)s") % {"filename": filename}
    created = 0
    if not preview.errors:
        created = _create_all(preview.households, user=acting_user, reason=reason, errors=preview.errors)
    if preview.errors:
        # Raised inside the transaction, so the households created before the failure go too.
        preview.errors = _sorted(preview.errors)
        raise ImportRejected(preview)
    return created


# ---------------------------------------------------------------------------------------------
# Writing


HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="A61B1B")
TEXT = "@"
DATE = "yyyy-mm-dd"
MONEY_FORMAT = "#,##0.00"
TEXT_COLUMNS = {"registration_no", "village", "id_number", "phone"}


def _xlsx(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def import_template(*, user) -> bytes:
    """The empty import sheet: Chinese headers, the ID column (and the other code columns) already
    formatted as Text, drop-down lists, the user's villages and instructions."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_DATA
    rows = 2000
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index, value=column.header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[letter].width = column.width
        number_format = TEXT if column.key in TEXT_COLUMNS else DATE if column.key == "exited_on" else None
        if number_format:
            # The column style covers cells typed later; the cells themselves cover pasting.
            ws.column_dimensions[letter].number_format = number_format
            for row in range(2, rows + 2):
                ws.cell(row=row, column=index).number_format = number_format
    ws.freeze_panes = "A2"

    villages = list(visible_villages(user).order_by("parent__code", "code"))
    vs = wb.create_sheet(SHEET_VILLAGES)
    for index, (header, width) in enumerate((("村名", 14), ("村代码", 16), ("所属乡镇", 14)), start=1):
        cell = vs.cell(row=1, column=index, value=header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        vs.column_dimensions[get_column_letter(index)].width = width
    for row, village in enumerate(villages, start=2):
        # Names typed by people (an administrator): through core/cells.py like every exported cell.
        set_xlsx_value(vs.cell(row=row, column=1), village.name)
        set_xlsx_value(vs.cell(row=row, column=2), village.code)
        vs.cell(row=row, column=2).number_format = TEXT
        set_xlsx_value(vs.cell(row=row, column=3), village.parent.name)

    lists = {
        "poverty_status": f'"{",".join(STATUS_WORDS.values())}"',
        "relation": f'"{",".join(RELATION_WORDS.values())}"',
        "labour_capacity": f'"{",".join(LABOUR_WORDS.values())}"',
    }
    if villages:
        lists["village"] = f"'{SHEET_VILLAGES}'!$A$2:$A${len(villages) + 1}"
    for key, formula in lists.items():
        letter = get_column_letter(list(BY_KEY).index(key) + 1)
        validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=False)
        ws.add_data_validation(validation)
        validation.add(f"{letter}2:{letter}{rows + 1}")

    _help_sheet(wb.create_sheet(SHEET_HELP, 1))
    return _xlsx(wb)


def _help_sheet(ws) -> None:
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 10
    ws.column_dimensions["C"].width = 90
    lines = [
        (_("How to fill in this file"), None, None),
        (_("One row per household member. Rows with the same 户编号 form one household."), None, None),
        (
            _(
                "Household columns are read from the head's row (与户主关系 = 户主); "
                "on other members' rows leave them empty or write the same value."
            ),
            None,
            None,
        ),
        (
            _(
                "Set the 身份证号 column to Text before typing or pasting numbers: "
                "a number cell keeps only 15 digits and the file will be refused. "
                "The template already does this."
            ),
            None,
            None,
        ),
        (
            _(
                "A lower-case x at the end of an ID number is accepted. "
                "Age and sex are taken from the ID number."
            ),
            None,
            None,
        ),
        (
            _(
                "Upload the file on the “Import households” page: every row is checked first and nothing is "
                "saved until every row is correct."
            ),
            None,
            None,
        ),
        ("", None, None),
        (_("Column"), _("Required"), _("What to write")),
    ]
    notes = {
        "registration_no": _("The household's 建档立卡 number; the same on every row of the household."),
        "village": _("The village name or code, as on the “村名单” sheet; only villages of your area."),
        "poverty_status": "、".join(STATUS_WORDS.values()),
        "exited_on": _("Only for 已脱贫 households, e.g. 2020-12-31."),
        "address": _("The household's address."),
        "annual_income": _("Yuan, digits only, e.g. 12000 or 12000.50."),
        "assets": _("Yuan, digits only."),
        "debts": _("Yuan, digits only."),
        "business": _("E.g. 种植、养殖、乡村旅游、小商店."),
        "name": _("The member's name."),
        "id_number": _("18 characters, as text."),
        "relation": "、".join(RELATION_WORDS.values()),
        "phone": _("Mobile or landline number."),
        "labour_capacity": "、".join(LABOUR_WORDS.values()),
    }
    head_required = {"village", "poverty_status"}
    for column in COLUMNS:
        if column.key in head_required:
            required = _("Head's row")
        elif column.required:
            required = _("Yes")
        else:
            required = ""
        lines.append((column.header, required, notes[column.key]))
    for row, values in enumerate(lines, start=1):
        for col, value in enumerate(values, start=1):
            if value is not None:
                cell = ws.cell(row=row, column=col, value=str(value))
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws["A1"].font = Font(bold=True, size=14)
    for col in range(1, 4):
        ws.cell(row=8, column=col).font = Font(bold=True)


def _cell(ws, value, number_format: str | None = None) -> WriteOnlyCell:
    # Through core/cells.py: a name or address typed as =HYPERLINK(…) stays text (STYLE.md rule 14).
    return xlsx_cell(ws, value, number_format)


def _household_cells(ws, household: Household) -> list[WriteOnlyCell]:
    # New cells for every row: a write-only cell is written with the row it was appended in.
    return [
        _cell(ws, household.registration_no, TEXT),
        _cell(ws, household.village.name, TEXT),
        _cell(ws, STATUS_WORDS.get(household.poverty_status, household.poverty_status)),
        _cell(ws, household.exited_on, DATE),
        _cell(ws, household.address),
        _cell(ws, household.annual_income, MONEY_FORMAT),
        _cell(ws, household.assets, MONEY_FORMAT),
        _cell(ws, household.debts, MONEY_FORMAT),
        _cell(ws, household.business),
    ]


def _member_cells(ws, member: Member, full_ids: bool) -> list[WriteOnlyCell]:
    return [
        _cell(ws, member.name),
        _cell(ws, member.id_number if full_ids else member.id_number_masked, TEXT),
        _cell(ws, RELATION_WORDS.get(member.relation, member.relation)),
        _cell(ws, member.phone, TEXT),
        _cell(ws, LABOUR_WORDS.get(member.labour_capacity, member.labour_capacity)),
    ]


def sensitive_data_note(*, user, full_ids: bool, purpose: str = "") -> str:
    """The line on top of every exported sheet saying what the file holds and how to treat it."""
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    if full_ids:
        return _(
            "Contains sensitive personal information: full ID numbers (PIPL art.28). For “%(purpose)s” "
            "only; keep it safe, do not pass it on, delete it when done. Exported by %(user)s, %(time)s."
        ) % {"purpose": purpose, "user": user, "time": when}
    return _(
        "Contains personal information (ID numbers masked). For work use only; keep it safe and do "
        "not pass it on. Exported by %(user)s, %(time)s."
    ) % {"user": user, "time": when}


def _mark_sheet(ws, note: str, *, full_ids: bool) -> None:
    """The note as the sheet's first row, and a short mark in the printed header and footer, so a
    printout or a screenshot of any page says what it is. "&" starts a code in Excel's header and
    footer syntax, hence the doubling."""
    ws.append([_cell(ws, note)])
    mark = _("Sensitive personal information") if full_ids else _("Personal information")
    ws.oddHeader.center.text = str(mark).replace("&", "&&")
    ws.oddFooter.center.text = str(mark).replace("&", "&&") + " &P / &N"


def export_workbook(
    *, user, queryset, full_ids: bool = False, purpose: str = "", filters: dict | None = None
) -> bytes:
    """The households of `queryset` (already scoped and filtered by the list's selector), one row per
    member in the import's columns, under a first row that marks the file as personal data.

    ID numbers are masked, as on every list (DOMAIN §2). `full_ids` is the separate action for the
    roles that may see whole numbers (households.permissions.FULL_ID_ROLES): it needs a stated
    `purpose`, and is refused otherwise. Every export is recorded with who, the purpose, how many
    rows and the list filter (`filters`), since it takes personal data off the system (PIPL
    art.28, 51). Write-only and chunked: memory and the number of queries do not grow with the rows."""
    purpose = purpose.strip() if isinstance(purpose, str) else ""
    if full_ids:
        if not can_see_full_id(user):
            raise NotPermitted(_("Your role may export ID numbers only in masked form."))
        if not purpose:
            message = _("State the purpose of the export with full ID numbers; it is recorded.")
            raise ApplicationError(message, "invalid", {"fields": {"purpose": [message]}}, field="purpose")
    members = Prefetch(
        "members", queryset=Member.objects.order_by("-is_head", "id"), to_attr="export_members"
    )
    # The list's own prefetches (ratings, blacklist) are not needed here; members are, head first.
    households = queryset.prefetch_related(None).select_related("village").prefetch_related(members)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_DATA)
    for index, column in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A3"
    _mark_sheet(ws, sensitive_data_note(user=user, full_ids=full_ids, purpose=purpose), full_ids=full_ids)
    header = []
    for column in COLUMNS:
        cell = _cell(ws, column.header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        header.append(cell)
    ws.append(header)

    household_count = member_count = rows = 0
    for household in households.iterator(chunk_size=2000):
        household_count += 1
        member_count += len(household.export_members)
        if not household.export_members:
            ws.append(_household_cells(ws, household))
            rows += 1
        for member in household.export_members:
            ws.append([*_household_cells(ws, household), *_member_cells(ws, member, full_ids)])
            rows += 1
    data = _xlsx(wb)
    audit(
        actor=user,
        action="household.export_full_ids" if full_ids else "household.export",
        obj=user,
        reason=purpose,
        data={
            "households": household_count,
            "members": member_count,
            "rows": rows,
            "full_id_numbers": full_ids,
            "purpose": purpose,
            "filter": filters or {},
        },
    )
    return data
