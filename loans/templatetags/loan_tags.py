"""Template tags other apps' pages use to link into the loan pages without knowing their rules."""

from django import template

from ..views.application_parts import can_apply_for

register = template.Library()


@register.inclusion_tag("loans/includes/apply_link.html", takes_context=True)
def new_application_link(context, household):
    """The "new loan application" button, for the cadre of the household's village only."""
    user = context["request"].user
    return {"household": household, "show": can_apply_for(user, household)}
