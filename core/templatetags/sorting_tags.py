"""`{% sort_th sorting "key" label %}`: a list's column header that sorts by the column (core/sorting.py).
Extra classes for the cell (`"num"`) go in `css`."""

from django import template

from core.sorting import SORT_PARAM

register = template.Library()


@register.inclusion_tag("includes/sort_th.html", takes_context=True)
def sort_th(context, sorting, key, label, css=""):
    params = context["request"].GET.copy()
    params[SORT_PARAM] = sorting.toggled(key)
    # A new order starts again on the first page.
    params.pop("page", None)
    return {
        "label": label,
        "query": params.urlencode(),
        "direction": sorting.direction(key),
        "css": css,
    }
