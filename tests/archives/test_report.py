"""The completeness report per village (issue 13): the missing items by household, scoped, and
an XLSX export where no text becomes a formula."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from archives.checklist import MISSING, checklist
from tests.factories import HouseholdFactory

pytestmark = pytest.mark.django_db


def test_report_lists_the_missing_items(world, client_as):
    household = HouseholdFactory(village=world.v1a)
    missing = [str(row.label) for row in checklist(household) if row.status == MISSING]
    assert missing  # a new household has uploaded nothing
    response = client_as(world.cadre).get(reverse("archives:report"), {"village": world.v1a.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert household.registration_no in html
    for label in missing:
        assert label in html


def test_report_is_scoped(world, client_as):
    client = client_as(world.other_cadre)
    assert client.get(reverse("archives:report"), {"village": world.v1a.pk}).status_code == 404
    assert client.get(reverse("archives:report_xlsx", args=[world.v1a.pk])).status_code == 404


def test_xlsx_keeps_formula_text_as_text(world, client_as):
    household = HouseholdFactory(village=world.v1a, head__name="=1+1")
    response = client_as(world.cadre).get(reverse("archives:report_xlsx", args=[world.v1a.pk]))
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.active
    cells = [cell for row in ws.iter_rows() for cell in row if cell.value == "=1+1"]
    assert cells and all(cell.data_type == "s" for cell in cells)
    row = [cell.value for cell in cells[0].parent[cells[0].row]]
    assert household.registration_no in row
