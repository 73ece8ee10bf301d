from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """Yuan as banks print them: 50,000.00. Django's zh-hans locale has no thousands separator,
    so floatformat would print 50000.00."""
    if value in (None, ""):
        return "-"
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
