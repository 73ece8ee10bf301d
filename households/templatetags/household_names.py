"""`{% household_title household %}`: a household as people call it, by its head's name
("王建国户"), or by its registration number when it has no head; `{% household_head household as
head %}` for a page that shows the number beside the name (issue 14). With the members
prefetched, neither makes a query."""

from django import template
from django.utils.translation import gettext as _

from ..selectors import head_of

register = template.Library()


@register.simple_tag
def household_head(household):
    return head_of(household)


@register.simple_tag
def household_title(household) -> str:
    head = head_of(household)
    if head is None:
        return _("Household %(no)s") % {"no": household.registration_no}
    return _("%(name)s household") % {"name": head.name}
