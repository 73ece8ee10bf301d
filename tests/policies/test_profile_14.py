"""Issue 14: the profile pages cite the policy texts in Chinese — 《临桂区实施细则》第十条 with the full
title on hover — in the help texts and in the source text an admin typed, never "P1"/"§" codes."""

import re

import pytest
from django.urls import reverse

from policies import citations

pytestmark = pytest.mark.django_db

CODES = re.compile(r"P[1-5](?![0-9])|§|第[一二三四五]篇")


def visible(html: str) -> str:
    """The page's text outside tags and attributes."""
    body = html.split("<main", 1)[-1]
    return re.sub(r"<[^>]+>", "", body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "含本数（第三篇§3.2、第五篇§3(1)1）。",
            "含本数（《庙山镇小额扶贫信贷知识》三、2、《XX区实施方案》三（一）1）。",
        ),
        ("（第二篇§4(4)2、§4(6)）", "（《山西省实施意见》四（四）2、四（六））"),
        ("（第一篇第四十三条第（六）项）", "（《临桂区实施细则》第四十三条第（六）项）"),
        ("Age (P3 §3.2, P5 §3(1)1).", "Age (《庙山镇小额扶贫信贷知识》三、2, 《XX区实施方案》三（一）1)."),
        ("P1 art.12: 村", "《临桂区实施细则》第十二条: 村"),
        (
            "P1 第十条；P1《桂林市临桂区扶贫小额信贷实施细则》第二条",
            "《临桂区实施细则》第十条；《桂林市临桂区扶贫小额信贷实施细则》第二条",
        ),
        ("APP1 §2 stays", "APP1 §2 stays"),
    ],
)
def test_codes_inside_free_text_become_chinese_citations(text, expected):
    assert citations.plain_text(text) == expected


def test_the_profile_page_cites_in_chinese(world, client_as):
    profile = world.profile
    profile.source_text = "P1 第十条：银行自主评级授信；P3 §3.2：18至60周岁。"
    profile.save(update_fields=["source_text"])
    html = client_as(world.admin).get(reverse("policies:profile_detail", args=[profile.pk])).content.decode()
    assert "《临桂区实施细则》第十条" in html
    assert 'title="《桂林市临桂区扶贫小额信贷实施细则》"' in html
    assert "《庙山镇小额扶贫信贷知识》三、2" in html
    assert not CODES.search(visible(html)), CODES.findall(visible(html))


def test_the_profile_form_help_texts_cite_in_chinese(world, client_as):
    html = client_as(world.admin).get(reverse("policies:profile_create") + f"?from={world.profile.pk}")
    html = html.content.decode()
    assert "《临桂区实施细则》" in html
    assert not CODES.search(visible(html)), CODES.findall(visible(html))


def test_the_demo_source_text_cites_in_chinese():
    from demo.policies import PROFILE_SOURCE

    assert "《桂林市临桂区扶贫小额信贷实施细则》第二条" in PROFILE_SOURCE
    assert not CODES.search(PROFILE_SOURCE)


def test_the_profile_page_prints_dates_as_y_m_d(world, client_as):
    html = (
        client_as(world.admin)
        .get(reverse("policies:profile_detail", args=[world.profile.pk]))
        .content.decode()
    )
    assert not re.search(r"\d{4}年\d{1,2}月\d{1,2}日", html)
    world.profile.refresh_from_db()
    assert world.profile.entrusted_cutoff.strftime("%Y-%m-%d") in html
