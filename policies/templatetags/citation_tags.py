"""`{{ source|cite }}`: a rule's source as the document's short name and article, the full title on
hover (policies/citations.py)."""

from django import template
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from policies import citations

register = template.Library()


@register.filter
def cite(source):
    parts = citations.parse(source)
    if not parts:
        return ""
    return format_html_join(
        mark_safe("；"),
        '<cite class="policy-cite{}" title="{}">{}</cite>',
        ((" internal" if c.internal else "", c.title, c.text) for c in parts),
    )


@register.filter
def cite_plain(source):
    return citations.plain(source)


@register.filter
def cite_text(text):
    """A free text (a help text, a profile's source text) with every code inside it ("P1 art.10",
    "第三篇§3.2") shown as its citation, the full title on hover; the rest escaped as usual."""
    html = []
    for part in citations.in_text(text):
        if isinstance(part, citations.Citation):
            html.append(format_html('<cite class="policy-cite" title="{}">{}</cite>', part.title, part.text))
        else:
            html.append(conditional_escape(part))
    return mark_safe("".join(html))
