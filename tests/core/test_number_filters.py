"""How numbers print on every page (issue 14): money 50,000.00, rates 4.35%, ratios as percentages."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from core.templatetags.core_tags import money, percent, rate


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("50000"), "50,000.00"),
        (Decimal("2190.5"), "2,190.50"),
        (Decimal("0.004"), "0.00"),
        (Decimal("1234567.891"), "1,234,567.89"),
        (Decimal("-300"), "-300.00"),
        ("30000.00", "30,000.00"),
        (None, "-"),
        ("", "-"),
        ("abc", "abc"),
    ],
)
def test_money(value, shown):
    assert money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("4.3500"), "4.35%"),
        (Decimal("4.7500"), "4.75%"),
        (Decimal("3.4125"), "3.4125%"),
        (Decimal("4"), "4.00%"),
        (Decimal("3.450"), "3.45%"),
        (None, "-"),
    ],
)
def test_rate(value, shown):
    assert rate(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.8"), "80%"),
        (Decimal("0.7500"), "75%"),
        (Decimal("1"), "100%"),
        (Decimal("0.333333"), "33.33%"),
        (Decimal("0.05"), "5%"),
        (None, "-"),
    ],
)
def test_percent(value, shown):
    assert percent(value) == shown


def test_filters_in_a_template_and_the_old_library_still_loads():
    out = Template("{% load core_tags household_tags %}{{ a|money }} {{ r|rate }} {{ s|percent }}").render(
        Context({"a": Decimal("50000"), "r": Decimal("4.35"), "s": Decimal("0.5")})
    )
    assert out == "50,000.00 4.35% 50%"
