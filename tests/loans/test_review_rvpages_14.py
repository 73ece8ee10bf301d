"""Final review of issue 14 (pages): numbers on pages print through core_tags like everywhere else."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from loans.workflow import State


@pytest.mark.today("2026-06-17")
def test_disburse_form_prints_the_indicative_rate_as_the_contract_rate_is_printed(
    world, client_as, new_application, drive
):
    app = drive(new_application(term_months=24), State.APPROVED)
    # An indicative rate with four places (a benchmark × 1.05, say): |rate keeps them, as the
    # contract rate beside it does; floatformat:2 printed 3.41%.
    type(app).objects.filter(pk=app.pk).update(rate=Decimal("3.4125"))
    html = client_as(world.officer).get(reverse("loans:application_disburse", args=[app.pk])).content.decode()
    basis = re.search(r'id="rate-basis">(.*?)</p>', html, re.S).group(1)
    assert "3.4125%" in basis and "%%" not in basis


def test_home_page_counts_have_thousands_separators(world, client_as, monkeypatch):
    import config.views

    counts = dict.fromkeys(
        ("total", "not_exited", "exited", "monitored", "rated", "blacklisted", "townships", "villages"), 12345
    )
    monkeypatch.setattr(config.views, "home_summary", lambda **kwargs: counts)
    html = client_as(world.county_office).get("/").content.decode()
    assert html.count('<div class="num">12,345</div>') == 8
    assert "12345" not in html
