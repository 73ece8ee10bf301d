"""The household roster as a file, in the layout village cadres already keep: one row per member,
a Chinese header row, rows sharing a registration number (户编号) forming one household. This
module holds the layout (the columns, the words of the choice columns, the sheets) and writes it:
the import template and the export. Reading a roster is households/excel_reading.py (rows into
households) and households/excel_import.py (the preview and the commit).

The headers and the words in the choice columns (未脱贫, 户主, 有劳动能力 …) are the file format,
not interface text, so they are Chinese literals and are not translated: a file must read the same
whatever language the page is shown in. Messages about the file are translated as usual."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from accounts.scoping import visible_villages
from core.audit import audit
from core.cells import set_xlsx_value, xlsx_cell
from core.exceptions import ApplicationError, NotPermitted

from .models import Household, Member
from .permissions import can_see_full_id

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
