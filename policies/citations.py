"""Rule citations as people read them. The code cites the policy texts the way DOMAIN.md does
("P1 art.10", "P1 art.25-26", "P5 §3(2)2", "P2 §4(4)2; P2 §4(6)", "DOMAIN §5: only an open loan
…"); the pages show the document's Chinese short name and its article ("《临桂区实施细则》第十条")
with the full title on hover. `parse` is a pure function from a source string to display parts;
`plain` joins them into one line for a form error or a JSON answer.

The documents are the five parts of the seed text (DOMAIN.md, first lines; the titles are the
seed's own headings). "DOMAIN §x" and issue numbers are this system's own business rules, not a
published text: they are shown as "业务规则" with the section only on hover."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

# code → (short name shown, full title on hover). Short names follow how a cadre would cite them.
DOCUMENTS: dict[str, tuple[str, str]] = {
    "P1": ("《临桂区实施细则》", "《桂林市临桂区扶贫小额信贷实施细则》"),
    "P2": ("《山西省实施意见》", "《山西省扶贫小额信贷实施意见》"),
    "P3": ("《庙山镇小额扶贫信贷知识》", "《庙山镇小额扶贫信贷相关知识》"),
    "P4": ("《扶贫小额信贷工作汇报》", "《扶贫小额信贷工作汇报》"),
    "P5": ("《XX区实施方案》", "《XX区扶贫小额信贷工作实施方案》"),
    "PIPL": ("《个人信息保护法》", "《中华人民共和国个人信息保护法》"),
}
# Sources that are this system's rules, not a published text.
INTERNAL = ("DOMAIN", "issue", "policy profile")

DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 25 → 二十五, 43 → 四十三, 100 → 一百, 105 → 一百零五 (articles run below 1000)."""
    if n < 0:
        raise ValueError(n)
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        tens, ones = divmod(n, 10)
        return DIGITS[tens] + "十" + (DIGITS[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return DIGITS[hundreds] + "百"
        if rest < 10:
            return DIGITS[hundreds] + "百零" + DIGITS[rest]
        return (
            DIGITS[hundreds] + "百" + (DIGITS[rest // 10] + "十" + (DIGITS[rest % 10] if rest % 10 else ""))
        )
    return str(n)


@dataclass(frozen=True)
class Citation:
    text: str  # what the page shows
    title: str = ""  # the full title, on hover
    internal: bool = False  # one of this system's own rules
    note: str = ""  # an explanation written after a colon in the code ("at most 3 years.")


_ARTICLE = re.compile(r"^(\d+)(?:\((\d+)\))?$")
_SECTION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\((\d+)\))?(\d+)?$")


def _article(token: str) -> str | None:
    """ "10" → 第十条; "43(6)" → 第四十三条第（六）项; "25-26" → 第二十五至二十六条."""
    token = token.strip()
    if "-" in token:
        low, _sep, high = token.partition("-")
        if low.isdigit() and high.isdigit():
            return f"第{chinese_number(int(low))}至{chinese_number(int(high))}条"
        return None
    m = _ARTICLE.match(token)
    if not m:
        return None
    text = f"第{chinese_number(int(m.group(1)))}条"
    if m.group(2):
        text += f"第（{chinese_number(int(m.group(2)))}）项"
    return text


def _section(token: str) -> str | None:
    """The numbered parts of the opinions and plans: "4(1)" → 四（一）; "3(2)2" → 三（二）2;
    "3.2" → 三、2 (the Miaoshan guide's numbered answers)."""
    m = _SECTION.match(token.strip())
    if not m:
        return None
    part, point, item, sub = m.groups()
    text = chinese_number(int(part))
    if point:
        text += f"、{point}"
    if item:
        text += f"（{chinese_number(int(item))}）"
    if sub:
        text += sub
    return text


def _locator(rest: str) -> str | None:
    """The article or section after the document's code, or None if it cannot be read."""
    rest = rest.strip()
    if not rest:
        return ""
    m = re.match(r"^arts?\.\s*(.+)$", rest)
    if m:
        pieces = [_article(p) for p in re.split(r"\s*,\s*", m.group(1))]
        if all(pieces):
            return "、".join(pieces)
        return None
    m = re.match(r"^ch\.\s*(\d+)$", rest)
    if m:
        return f"第{chinese_number(int(m.group(1)))}章"
    m = re.match(r"^§\s*(.+)$", rest)
    if m:
        return _section(m.group(1))
    return None


def _one(piece: str, previous_doc: str | None) -> tuple[Citation, str | None]:
    piece = piece.strip()
    note = ""
    # "P1 art.25-26: a renewal replaces …" — the explanation after the colon is the code's gloss.
    m = re.match(r"^(.*?)(?::|：)\s+(.+)$", piece)
    if m and not piece.startswith(("P5《", "P1《")):
        piece, note = m.group(1).strip(), m.group(2).strip()
    for prefix in INTERNAL:
        if piece.startswith(prefix):
            # The section of DOMAIN.md means nothing to a reader of the page: it stays in `note`.
            return Citation(
                _("business rule"),
                title=_("A rule of this system, not a published policy text"),
                internal=True,
                note=f"{piece}: {note}" if note else piece,
            ), previous_doc
    m = re.match(r"^([A-Z][A-Z0-9]*)(?=\s|《|$)\s*(.*)$", piece)
    if m and m.group(1) in DOCUMENTS:
        code, rest = m.group(1), m.group(2)
        short, title = DOCUMENTS[code]
        if rest.startswith("《"):
            # Already written in Chinese ("P5《XX区…》三（一）1：…"): shown as written.
            return Citation(rest, title=title, note=note), code
        locator = _locator(rest)
        if locator is None:  # "P1 临桂区扶贫小额信贷实施细则", "P1": the document alone
            return Citation(short, title=title, note=note), code
        return Citation(short + locator, title=title, note=note), code
    # "§4(6)" right after a P2 citation ("P2 §4(4)2, §4(6)") belongs to that document.
    if previous_doc and piece.startswith(("§", "art")):
        locator = _locator(piece)
        if locator:
            short, title = DOCUMENTS[previous_doc]
            return Citation(short + locator, title=title, note=note), previous_doc
    # A reference to some other text (银保监发〔2021〕6号): shown as it is.
    return Citation(piece, note=note), previous_doc


def parse(source: str | None) -> list[Citation]:
    """The display parts of a source string, in order, with duplicates (two "业务规则") merged."""
    if not source:
        return []
    parts: list[Citation] = []
    previous: str | None = None
    # ";" separates citations; so does a comma before a new document or section ("DOMAIN §5,
    # P1 art.22"; "P2 §4(4)2, §4(6)"), but not the one between articles ("P1 arts.8(3), 21").
    for piece in re.split(r"\s*[;；]\s*|,\s*(?=P\d|DOMAIN|PIPL|issue|§)", str(source)):
        if not piece.strip():
            continue
        citation, previous = _one(piece, previous)
        if citation.internal and any(p.internal for p in parts):
            continue
        parts.append(citation)
    return parts


def plain(source: str | None) -> str:
    """One line for a form error or the live panel: "《临桂区实施细则》第十条；《山西省实施意见》五（一）"."""
    return "；".join(c.text for c in parse(source))


def as_dicts(source: str | None) -> list[dict]:
    """For JSON: [{"text": …, "title": …, "internal": …}]."""
    return [{"text": c.text, "title": c.title, "internal": c.internal} for c in parse(source)]


# ---- citations inside free text (issue 14) -------------------------------------------------------
# A help text or a profile's source text cites inline: "(P3 §3.2, P5 §3(1)1)", "P1 art.12: …", and
# in its Chinese translation "（第三篇§3.2、第五篇§3(1)1）", "第一篇第十二条"; an admin may write
# "P1《…》第二条". `in_text` cuts such a text into plain strings and Citations, so every code
# reads as 《短名》第十条 with the full title on hover.
_NUMERAL = "一二三四五"
_CN_NUMBER = "[零一二三四五六七八九十百]+"
_CN_ARTICLE = rf"第{_CN_NUMBER}条(?:第（{_CN_NUMBER}）项)?(?:至第?{_CN_NUMBER}条)?"
_SECTION_TOKEN = r"§\s*\d+(?:\.\d+)?(?:\(\d+\))?\d*"
_ART_TOKEN = r"arts?\.\s*\d+(?:\(\d+\))?(?:-\d+)?(?:\s*,\s*\d+(?:\(\d+\))?(?:-\d+)?)*"
_INLINE = re.compile(
    r"(?<![A-Za-z0-9])(?:P(?P<p>[1-5])|第(?P<c>[一二三四五])篇)\s*"
    rf"(?P<loc>{_SECTION_TOKEN}|{_ART_TOKEN}|ch\.\s*\d+|{_CN_ARTICLE})?"
)
_CHAIN = re.compile(rf"(?P<sep>\s*[、,，]\s*)(?P<loc>{_SECTION_TOKEN})")


def _inline_locator(loc: str) -> str:
    if loc.startswith("第"):
        return loc
    return _locator(loc) or loc


def in_text(text: str | None) -> list[str | Citation]:
    """ "年龄（第三篇§3.2、第五篇§3(1)1）" → ["年龄（", Citation(《庙山镇小额扶贫信贷知识》三、2),
    "、", Citation(《XX区实施方案》三（一）1), "）"]. A code before a title written out ("P1《桂林市…》")
    is dropped; a code with nothing readable after it becomes the short name."""
    if not text:
        return []
    text = str(text)
    out: list[str | Citation] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() < pos:
            continue
        code = "P" + (m.group("p") or str(_NUMERAL.index(m.group("c")) + 1))
        short, title = DOCUMENTS[code]
        if m.start() > pos:
            out.append(text[pos : m.start()])
        loc = m.group("loc")
        end = m.end()
        if not loc and text[end : end + 1] == "《":
            pos = end  # the title is written out after the code: drop the code
            continue
        out.append(Citation(short + (_inline_locator(loc) if loc else ""), title=title))
        # "P2 §4(4)2, §4(6)": the next section belongs to the same document (named once).
        while chained := _CHAIN.match(text, end):
            out.append("、" if "、" in chained.group("sep") or "，" in chained.group("sep") else ", ")
            out.append(Citation(_inline_locator(chained.group("loc")), title=title))
            end = chained.end()
        pos = end
    if pos < len(text):
        out.append(text[pos:])
    return out


def plain_text(text: str | None) -> str:
    """`in_text` as one plain line."""
    return "".join(p.text if isinstance(p, Citation) else p for p in in_text(text))
