"""Issue 14: numbers on the policy and risk-fund pages as everywhere else: amounts 50,000.00,
rates 4.35%, shares as percentages (1.0000 → 100%, 0.8000 → 80%), a multiple as a number."""

import re

import pytest
from django.urls import reverse

from riskfund.models import CompensationClaim

pytestmark = pytest.mark.django_db


def cell(html: str, label: str) -> str:
    """The value next to a key-value row's label."""
    match = re.search(rf"<th>{re.escape(label)}</th><td>(.*?)(<br>|</td>)", html, re.S)
    assert match, label
    return match.group(1).strip()


def test_the_profile_page_prints_shares_amounts_and_the_multiple(world, client_as):
    html = client_as(world.county_office).get(reverse("policies:profile_detail", args=[world.profile.pk]))
    html = html.content.decode()
    assert cell(html, "贴息比例") == "100%"
    assert cell(html, "风险补偿金分担比例") == "80%"
    assert cell(html, "单笔贷款金额上限") == "50,000.00"
    assert cell(html, "放大倍数") == "10"
    assert "0.8000" not in html and "1.0000" not in html


def test_the_profile_list_prints_the_amount_as_money(world, client_as):
    html = client_as(world.county_office).get(reverse("policies:profile_list")).content.decode()
    assert "50,000.00" in html


def test_the_rate_table_prints_rates_in_percent(world, client_as):
    html = client_as(world.county_office).get(reverse("policies:rate_list")).content.decode()
    assert "4.35%" in html and "4.75%" in html and ">4.35<" not in html


def test_a_claim_shows_the_shares_in_percent(world, client_as):
    from tests.riskfund.claim_helpers import file, make_loan

    claim = file(world, make_loan(world))
    assert claim.fund_ratio == CompensationClaim._meta.get_field("fund_ratio").to_python("0.8000")
    html = client_as(world.county_office).get(reverse("riskfund:claim_detail", args=[claim.pk]))
    html = html.content.decode()
    assert "风险补偿金承担（80%）" in html and "银行承担（20%）" in html


def test_the_funds_multiple_is_a_plain_number(world, client_as):
    html = (
        client_as(world.finance).get(reverse("riskfund:fund_detail", args=[world.fund.pk])).content.decode()
    )
    assert '<div class="num">10</div>' in html and "10.00</div>" not in html
