"""`{% state_tag obj %}`: an object's state as a coloured tag, the same on every page.

The tone (the `tag` style's colour class) of each value is in one table per model and field;
`{% state_tag loan "classification" %}` tags another field the same way. The keys are model
labels, not imports, so the loan and subsidy pages share the tag without this module depending on
the apps that use it."""

from django import template
from django.utils.html import format_html

register = template.Library()

OK, WARN, BAD, PLAIN = "ok", "warn", "bad", ""

# (model label, field) → (tone of each value, tone of any other value).
TONES: dict[tuple[str, str], tuple[dict[str, str], str]] = {
    ("loans.LoanApplication", "state"): (
        {"approved": OK, "disbursed": OK, "rejected": BAD, "withdrawn": BAD, "draft": PLAIN},
        WARN,
    ),
    ("loans.Loan", "state"): (
        {"settled": OK, "overdue": BAD, "written_off": BAD, "compensated": BAD, "extended": WARN},
        PLAIN,
    ),
    ("loans.Loan", "classification"): ({"normal": OK, "special_mention": WARN}, BAD),
    ("subsidies.SubsidyBatch", "state"): (
        {"paid": OK, "cancelled": BAD, "computing": WARN, "reviewed": WARN, "approved": WARN},
        PLAIN,
    ),
}


@register.simple_tag
def state_tag(obj, field: str = "state"):
    """`<span class="tag …">` with the value's display name, coloured by its tone."""
    tones, other = TONES[(obj._meta.label, field)]
    tone = tones.get(getattr(obj, field), other)
    return format_html(
        '<span class="{}">{}</span>',
        f"tag {tone}" if tone else "tag",
        getattr(obj, f"get_{field}_display")(),
    )
