from decimal import Decimal

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_fund_list_and_detail_for_finance(client, world):
    client.force_login(world.finance)
    r = client.get(reverse("riskfund:fund_list"))
    assert r.status_code == 200
    assert "10,000,000.00" in r.content.decode()
    r = client.get(reverse("riskfund:fund_detail", args=[world.fund.pk]))
    assert r.status_code == 200
    assert "10,000,000.00" in r.content.decode()


def test_statement_page(client, world):
    client.force_login(world.finance)
    r = client.get(reverse("riskfund:statement", args=[world.fund.pk]))
    assert r.status_code == 200


def test_api_list(api_as, world):
    r = api_as(world.finance).get("/api/v1/risk-funds/")
    assert r.status_code == 200, r.content
    row = r.json()["results"][0]
    assert Decimal(row["balance"]) == Decimal("10000000.00")
