"""Issue 14: a batch's page prints its computing time in one format ("2026-10-08 01:00–01:05") and
its profile figures with full-width colons; the new-batch form on the list opens on the quarter
a new batch is for — the one after the county's latest batch, or the latest ended quarter."""

import datetime
import re

import pytest
from django.urls import reverse

from subsidies.forms import default_quarter
from subsidies.models import SubsidyBatch
from subsidies.workflow import State
from tests.conftest import SHANGHAI

from .test_exports import case  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def test_the_computing_time_is_in_one_format(world, case, client_as):  # noqa: F811
    SubsidyBatch.objects.filter(pk=case.batch.pk).update(
        compute_started_at=at(2026, 10, 8, 1, 0, 12), computed_at=at(2026, 10, 8, 1, 5, 40)
    )
    html = (
        client_as(world.finance).get(reverse("subsidies:batch_detail", args=[case.batch.pk])).content.decode()
    )
    assert "2026-10-08 01:00–01:05" in html
    assert not re.search(r"\d\d:\d\d:\d\d", html)


def test_a_computation_past_midnight_names_both_days(world, case, client_as):  # noqa: F811
    SubsidyBatch.objects.filter(pk=case.batch.pk).update(
        compute_started_at=at(2026, 10, 7, 23, 58), computed_at=at(2026, 10, 8, 0, 2)
    )
    html = (
        client_as(world.finance).get(reverse("subsidies:batch_detail", args=[case.batch.pk])).content.decode()
    )
    assert "2026-10-07 23:58–2026-10-08 00:02" in html


def test_the_profile_figures_use_full_width_colons(world, case, client_as):  # noqa: F811
    html = (
        client_as(world.finance).get(reverse("subsidies:batch_detail", args=[case.batch.pk])).content.decode()
    )
    for label in ("上限利率", "贴息比例", "贴息期限", "每户贴息本金上限"):
        assert f"{label}：" in html, label
        assert f"{label}:" not in html, label


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (set(), (2026, 3)),
        ({(2026, 2), (2026, 3)}, (2026, 4)),
        ({(2026, 1)}, (2026, 2)),
        ({(2025, 4)}, (2026, 1)),
    ],
)
def test_default_quarter(taken, expected):
    assert default_quarter(taken, datetime.date(2026, 12, 5)) == expected


def selected(html: str, name: str) -> str:
    select = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    return re.search(r'<option value="(\d+)"[^>]*selected', select).group(1)


def make_batch(world, year, quarter, state=State.DRAFT):
    batch = SubsidyBatch.objects.create(county=world.county, year=year, quarter=quarter)
    SubsidyBatch.objects.filter(pk=batch.pk).update(state=state)


@pytest.mark.today("2026-12-05")
def test_the_new_batch_form_opens_on_the_quarter_after_the_latest_batch(world, client_as):
    make_batch(world, 2026, 2, State.COMPUTED)
    make_batch(world, 2026, 3)
    html = client_as(world.finance).get(reverse("subsidies:batch_list")).content.decode()
    assert (selected(html, "year"), selected(html, "quarter")) == ("2026", "4")


@pytest.mark.today("2026-08-05")
def test_the_new_batch_form_opens_on_the_latest_ended_quarter_without_batches(world, client_as):
    make_batch(world, 2026, 2, State.CANCELLED)
    html = client_as(world.finance).get(reverse("subsidies:batch_list")).content.decode()
    assert (selected(html, "year"), selected(html, "quarter")) == ("2026", "2")


@pytest.mark.today("2026-12-05")
def test_a_quarter_still_running_is_named_with_the_day_it_ends(world, client_as):
    make_batch(world, 2026, 3)
    html = client_as(world.finance).get(reverse("subsidies:batch_list")).content.decode()
    assert "下一个批次是 2026 年第 4 季度，该季度到 2026-12-31 结束" in html


@pytest.mark.today("2027-01-06")
def test_an_ended_quarter_needs_no_note(world, client_as):
    make_batch(world, 2026, 3)
    html = client_as(world.finance).get(reverse("subsidies:batch_list")).content.decode()
    assert (selected(html, "year"), selected(html, "quarter")) == ("2026", "4")
    assert "下一个批次是" not in html
