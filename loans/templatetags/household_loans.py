"""`{% household_loans household %}`: on the household's page (households may not import loans),
the household's applications and loans that the user may open, and the "new loan application"
button when a new application is possible, or the reasons it is not (issue 14)."""

from django import template
from django.utils import timezone

from .. import selectors
from ..household_outlook import new_application_outlook
from ..views.application_parts import can_apply_for

register = template.Library()


@register.inclusion_tag("loans/includes/household_panel.html", takes_context=True)
def household_loans(context, household):
    user = context["request"].user
    # Scoped like the lists and the detail pages, so every row links to a page the user may open
    # (the bank does not see the village's drafts).
    applications = list(
        selectors.application_list(user=user).filter(household=household).order_by("-created_at", "-id")
    )
    loans = list(selectors.loan_list(user=user, household=household.pk).order_by("-disbursed_on", "-id"))
    outlook = new_application_outlook(household, on_date=timezone.localdate())
    visible_apps = {a.pk for a in applications}
    visible_loans = {loan.pk for loan in loans}
    return {
        "household": household,
        "applications": applications,
        "loans": loans,
        "outlook": outlook,
        "reasons": [
            {
                "reason": r,
                "application_id": r.application_id if r.application_id in visible_apps else None,
                "loan_id": r.loan_id if r.loan_id in visible_loans else None,
            }
            for r in outlook.reasons
        ],
        "can_apply": can_apply_for(user, household),
    }
