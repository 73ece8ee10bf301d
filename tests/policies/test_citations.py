"""Rule citations as readers cite them (issue 14): every source string the code gives a rule is
read into the document's Chinese short name and article, with the full title on hover; the
system's own rules ("DOMAIN §5") say "业务规则" and never show "DOMAIN" or "art."."""

import re

import pytest
from django.template import Context, Template

from loans import eligibility
from loans.services import changes
from policies import citations
from policies.citations import chinese_number, parse, plain


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "一"),
        (2, "二"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (25, "二十五"),
        (43, "四十三"),
        (100, "一百"),
        (105, "一百零五"),
        (120, "一百二十"),
    ],
)
def test_chinese_numbers(n, text):
    assert chinese_number(n) == text


@pytest.mark.parametrize(
    ("source", "texts"),
    [
        ("P1 art.10", ["《临桂区实施细则》第十条"]),
        ("P1 art.25-26", ["《临桂区实施细则》第二十五至二十六条"]),
        ("P1 art.43(6)", ["《临桂区实施细则》第四十三条第（六）项"]),
        ("P1 arts.8(3), 21; DOMAIN §8", ["《临桂区实施细则》第八条第（三）项、第二十一条", "业务规则"]),
        ("P5 §3(2)2", ["《XX区实施方案》三（二）2"]),
        ("P2 §4(4)2; P2 §4(6)", ["《山西省实施意见》四（四）2", "《山西省实施意见》四（六）"]),
        ("P2 §4(4)2, §4(6)", ["《山西省实施意见》四（四）2", "《山西省实施意见》四（六）"]),
        ("P3 §3.2", ["《庙山镇小额扶贫信贷知识》三、2"]),
        ("P1 ch.8", ["《临桂区实施细则》第八章"]),
        ("DOMAIN §5: only an open loan is extended or renewed", ["业务规则"]),
        ("DOMAIN §4.5; issue #3: the approver approves", ["业务规则"]),
        ("DOMAIN §2; PIPL art.28", ["业务规则", "《个人信息保护法》第二十八条"]),
        (
            "P2 §4(1); P3 §3.1; 银保监发〔2021〕6号（监测对象）",
            [
                "《山西省实施意见》四（一）",
                "《庙山镇小额扶贫信贷知识》三、1",
                "银保监发〔2021〕6号（监测对象）",
            ],
        ),
        ("", []),
    ],
)
def test_parse(source, texts):
    assert [c.text for c in parse(source)] == texts


def test_full_title_on_hover_and_internal_rules_hide_their_section():
    (p1,) = parse("P1 art.10")
    assert p1.title == "《桂林市临桂区扶贫小额信贷实施细则》" and not p1.internal
    (domain,) = parse("DOMAIN §5: only an open loan")
    assert domain.internal and "DOMAIN" not in domain.text + domain.title and "§" not in domain.title
    assert plain("P1 art.10; P2 §5(1)") == "《临桂区实施细则》第十条；《山西省实施意见》五（一）"


def _code_sources():
    sources = (
        set(eligibility.SOURCES.values()) | set(changes.SOURCES.values()) | {eligibility.INDIRECT_SOURCE}
    )
    # The consents' source, written inline in loans/services/applications.py.
    sources.add("PIPL art.25; DOMAIN §4.3")
    from loans.services import applications

    for name in dir(applications):
        value = getattr(applications, name)
        if isinstance(value, dict) and name.endswith("SOURCES"):
            sources |= {v for v in value.values() if isinstance(v, str)}
    return sorted(sources)


@pytest.mark.parametrize("source", _code_sources())
def test_every_source_in_the_code_reads_as_a_citation(source):
    parts = parse(source)
    assert parts
    for c in parts:
        # No code form is left for the reader: "P1", "art.", "§" or "DOMAIN".
        assert not re.search(r"\bP\d\b|art\.|§|DOMAIN|issue", c.text), (source, c.text)
        assert c.internal or c.title or "〔" in c.text, (source, c)


def test_cite_filter_renders_the_title_attribute():
    html = Template("{% load citation_tags %}{{ s|cite }}").render(Context({"s": "P1 art.10; DOMAIN §3"}))
    assert 'title="《桂林市临桂区扶贫小额信贷实施细则》"' in html
    assert "《临桂区实施细则》第十条" in html and "业务规则" in html and "DOMAIN" not in html
    assert citations.as_dicts("P1 art.10")[0]["title"]


def test_no_chinese_text_cites_a_source_by_its_code():
    """What users read cites documents as the policy pages do (《…》第十条), never by this
    project's codes ("P1 art.10", "P1 第38条", "DOMAIN §8") — issue 14."""
    import glob

    import polib

    code = re.compile(r"\bP\d\b|DOMAIN|\bart\.\s*\d")
    found = [
        (path, entry.msgid)
        for path in glob.glob("*/locale/zh_Hans/LC_MESSAGES/django.po")
        for entry in polib.pofile(path)
        if code.search(entry.msgstr)
    ]
    assert found == []
