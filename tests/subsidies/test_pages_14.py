"""Issue 14 on the subsidy pages: the payment file is headed in Chinese (and stays data, never a
formula); a batch's header and the batch list show the figures of the user's area (village,
township) rather than the county's; rates, shares and counts are printed as everywhere else."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from households.models import Member
from loans.models import Loan
from policies.models import PolicyProfile

from .test_exports import TOTAL, approve, case, url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def detail(client, batch):
    response = client.get(reverse("subsidies:batch_detail", args=[batch.pk]))
    assert response.status_code == 200
    return response


def test_the_payment_file_is_headed_in_chinese_with_the_same_data(world, case, client_as, approve):  # noqa: F811
    batch = approve(case.batch)
    response = client_as(world.finance).get(url("export-payment-csv", batch))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["收款账号", "户名", "金额(元)", "借款合同编号"]
    assert sorted(rows[1:]) == sorted(
        [
            ["6217001234567890123", case.a.borrower.name, "555.83", case.a.contract_no],
            ["6217009999000000001", case.b.borrower.name, "368.54", case.b.contract_no],
        ]
    )


def test_no_cell_of_the_payment_file_is_a_formula(world, case, client_as, approve):  # noqa: F811
    Member.objects.filter(pk=case.a.borrower_id).update(name="+SUM(A1:A9)")
    Loan.objects.filter(pk=case.b.pk).update(account_no="=1+1", contract_no="@cmd")
    batch = approve(case.batch)
    response = client_as(world.finance).get(url("export-payment-csv", batch))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    quoted = [cell for row in rows[1:] for cell in row if cell.startswith("'")]
    assert sorted(quoted) == sorted(["'+SUM(A1:A9)", "'=1+1", "'@cmd"])


def test_a_cadres_header_shows_the_village_not_the_county(world, case, client_as):  # noqa: F811
    # 五通村 (v1a) has loans A (555.83, subsidized) and D (no settlement: a line without subsidy).
    page = detail(client_as(world.cadre), case.batch)
    header = page.context["header"]
    villages = page.context["villages"]
    assert [v["village"] for v in villages] == [world.v1a]
    assert header["amount"] == villages[0]["amount"] == Decimal("555.83") != TOTAL
    assert header["lines"] == villages[0]["lines"] == 2
    assert header["subsidized"] == 1
    html = page.content.decode()
    assert "555.83" in html and "924.37" not in html
    assert "五通村" in html.split('<div class="cards">')[0]


def test_a_township_officers_header_shows_the_township(world, case, client_as):  # noqa: F811
    page = detail(client_as(world.township_officer), case.batch)
    header = page.context["header"]
    # 五通镇: 五通村 (A, D) and 茶洞村 (B's two lines): 555.83 + 181.25 + 187.29. C, in 两江镇, is
    # not paid, so the amount is the county's too, but its line is not counted.
    assert header["amount"] == Decimal("924.37")
    assert header["lines"] == 4 and header["subsidized"] == 3
    assert header["area"] == world.t1


def test_the_county_finance_header_is_the_batchs_own(world, case, client_as):  # noqa: F811
    header = detail(client_as(world.finance), case.batch).context["header"]
    assert header == {"amount": TOTAL, "subsidized": 3, "lines": 5, "area": None}


def test_the_batch_list_shows_a_cadre_the_village_figures(world, case, client_as):  # noqa: F811
    html = client_as(world.cadre).get(reverse("subsidies:batch_list")).content.decode()
    assert "555.83" in html and "924.37" not in html
    html = client_as(world.finance).get(reverse("subsidies:batch_list")).content.decode()
    assert "924.37" in html


def test_share_and_rates_are_percentages(world, case, client_as):  # noqa: F811
    PolicyProfile.objects.filter(pk=case.batch.profile_id).update(subsidy_share=Decimal("0.5000"))
    html = detail(client_as(world.finance), case.batch).content.decode()
    assert "50%" in html and "0.5000" not in html
    lines = client_as(world.finance).get(reverse("subsidies:batch_lines", args=[case.batch.pk]))
    body = lines.content.decode()
    assert "4.35%" in body and ">4.35<" not in body


def test_steps_ask_without_an_inline_handler(world, case, client_as):  # noqa: F811
    """The CSP refuses inline handlers: the confirmation is a data attribute read by a script."""
    html = detail(client_as(world.finance), case.batch).content.decode()
    assert "onsubmit" not in html
    assert "data-step-confirm" in html and "js/subsidies/batch_steps.js" in html
