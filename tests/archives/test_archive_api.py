"""API: `households/{id}/archive/` — the checklist as JSON, scoped."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from archives.models import Item
from archives.services.documents import document_upload
from tests.factories import HouseholdFactory, LoanFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return out.getvalue()


def test_the_checklist_as_json(world, api_as):
    household = HouseholdFactory(village=world.v1a)
    loan = LoanFactory(household=household, branch=world.br1)
    doc = document_upload(world.cadre, household, Item.ID_CARD, SimpleUploadedFile("id.png", png()))
    response = api_as(world.officer).get(f"/api/v1/households/{household.pk}/archive/")
    assert response.status_code == 200
    data = response.json()
    assert data["household"] == household.pk
    assert data["complete"] is False
    items = {(row["item"], row["loan"]): row for row in data["items"]}
    id_card = items[("id_card", None)]
    assert id_card["status"] == "present"
    assert id_card["by"] == str(world.cadre)
    assert id_card["documents"][0]["url"] == f"/archives/documents/{doc.pk}/file/"
    assert items[("contract", loan.pk)]["status"] == "missing"
    assert items[("rating_form", None)]["status"] == "missing"
    assert data["missing"] == sum(1 for row in data["items"] if row["status"] == "missing")


def test_another_county_gets_404(world, api_as):
    household = HouseholdFactory(village=world.v1a)
    response = api_as(world.other_cadre).get(f"/api/v1/households/{household.pk}/archive/")
    assert response.status_code == 404
