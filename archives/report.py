"""The completeness report per village (issue 13): for every household of the village, the items
of its file that are missing (DOMAIN §9), read through `checklist_many` in a fixed number of
queries; on a page and as XLSX (every cell through core/cells.py, so no text becomes a formula)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from accounts.models import OrgUnit
from accounts.scoping import visible_villages
from core.audit import audit
from core.cells import xlsx_cell
from households.models import Member
from households.selectors import household_list

from .checklist import MISSING, checklist_many


@dataclass
class HouseholdLine:
    household: object
    head: str
    items: int
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def report_villages(user):
    return visible_villages(user).order_by("parent__code", "code")


def village_get(*, user, pk) -> OrgUnit:
    village = report_villages(user).filter(pk=pk).first()
    if village is None:
        raise Http404
    return village


def _missing_label(row) -> str:
    label = str(row.label)
    if row.loan is not None:
        return f"{label}（{row.loan.contract_no}）"
    return label


def completeness(*, user, village: OrgUnit) -> list[HouseholdLine]:
    households = list(
        household_list(user=user)
        .filter(village=village)
        .prefetch_related(Prefetch("members", queryset=Member.objects.filter(is_head=True), to_attr="heads"))
        .order_by("registration_no", "pk")
    )
    rows = checklist_many(households)
    lines = []
    for household in households:
        items = rows.get(household.pk, [])
        lines.append(
            HouseholdLine(
                household=household,
                head=household.heads[0].name if household.heads else "",
                items=len(items),
                missing=[_missing_label(r) for r in items if r.status == MISSING],
            )
        )
    return lines


def summary(lines: list[HouseholdLine]) -> dict:
    return {
        "households": len(lines),
        "complete": sum(1 for line in lines if line.complete),
        "missing": sum(len(line.missing) for line in lines),
    }


def write_xlsx(stream, *, user, village: OrgUnit, lines: list[HouseholdLine]) -> None:
    """The report as XLSX, and an audit record of the export."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Completeness"))
    bold = Font(bold=True)
    ws.append(
        [
            xlsx_cell(
                ws, _("Completeness of the credit files: %(village)s") % {"village": village.name}, font=bold
            )
        ]
    )
    ws.append([xlsx_cell(ws, timezone.localtime().strftime("%Y-%m-%d %H:%M"))])
    ws.append(
        [
            xlsx_cell(ws, header, font=bold)
            for header in (
                _("Registration no."),
                _("Head of household"),
                _("Items"),
                _("Missing"),
                _("Missing items"),
            )
        ]
    )
    for line in lines:
        ws.append(
            [
                xlsx_cell(ws, line.household.registration_no),
                xlsx_cell(ws, line.head),
                xlsx_cell(ws, line.items),
                xlsx_cell(ws, len(line.missing)),
                xlsx_cell(ws, "；".join(line.missing)),
            ]
        )
    wb.save(stream)
    audit(actor=user, action="archives.completeness_export", obj=village, data={"households": len(lines)})


def filename(village: OrgUnit, today: datetime.date | None = None) -> str:
    today = today or timezone.localdate()
    return f"completeness-{village.code}-{today:%Y%m%d}.xlsx"
