"""The house's template tags and filters: paging links that keep the filters, and how numbers are
printed on every page (issue 14): money as banks print it (50,000.00), rates in percent with their
sign (4.35%), ratios as percentages (0.8 → 80%)."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (for paging that keeps filters)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def money(value) -> str:
    """Yuan as banks print them: 50,000.00. Django's zh-hans locale has no thousands separator,
    so floatformat would print 50000.00. Nothing (None, "") prints as "-"."""
    amount = _decimal(value)
    if amount is None:
        return "-" if value in (None, "") else str(value)
    return f"{amount:,.2f}"


def _trimmed(number: Decimal, places: int) -> str:
    """`number` to at most `places` decimals, trailing zeros dropped but never fewer than two
    (4.3500 → 4.35, 3.4125 → 3.4125, 4 → 4.00)."""
    text = f"{number:,.{places}f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


@register.filter
def rate(value) -> str:
    """An annual rate stored in percent (4.3500) as people write it: 4.35%. Up to four decimals
    when they matter (3.4125%). Nothing prints as "-"."""
    number = _decimal(value)
    if number is None:
        return "-" if value in (None, "") else str(value)
    return f"{_trimmed(number, 4)}%"


@register.filter
def thousands(value) -> str:
    """A count with thousands separators, as money is printed (1,234): the zh-hans locale has
    none, so intcomma would print 1234. Nothing prints as "-"."""
    number = _decimal(value)
    if number is None:
        return "-" if value in (None, "") else str(value)
    return f"{number:,f}" if number != number.to_integral_value() else f"{int(number):,}"


@register.filter
def percent(value, places=2) -> str:
    """A ratio (0.8, 0.7500) as a percentage: 80%, 75%, 33.33%; trailing zeros dropped. Nothing
    prints as "-"."""
    number = _decimal(value)
    if number is None:
        return "-" if value in (None, "") else str(value)
    text = f"{number * 100:,.{int(places)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"
