"""`{{ source|cite }}`: a rule's source as the document's short name and article, the full title on
hover (policies/citations.py)."""

from django import template
from django.utils.html import format_html_join
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
