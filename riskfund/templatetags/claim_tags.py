"""`{% loan_claim loan %}`: on the loan's page (loans' book_detail, which may not import riskfund),
the loan's compensation claim and its state, or for an open loan the day a claim becomes possible
under each trigger that applies, with a link to file one once that day has come."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..services.claims import is_filing_officer
from ..workflow import STEP_LABELS

register = template.Library()

LIVE = ("filed", "reviewed", "approved", "paid")
TONES = {
    "paid": "ok",
    "rejected": "bad",
    "withdrawn": "bad",
    "filed": "warn",
    "reviewed": "warn",
    "approved": "warn",
}


@register.filter
def claim_step_label(name: str):
    """A history row's step as the buttons name it (`file` is the filing itself)."""
    return _("File the claim") if name == "file" else STEP_LABELS.get(name, name)


@register.simple_tag
def claim_state(claim):
    """The claim's state as a coloured tag, like loans' `state_tag`."""
    return format_html(
        '<span class="tag {}">{}</span>', TONES.get(claim.state, ""), claim.get_state_display()
    )


@register.inclusion_tag("riskfund/claim_loan_panel.html", takes_context=True)
def loan_claim(context, loan):
    request = context.get("request")
    user = getattr(request, "user", None)
    outlook = selectors.claim_outlook(loan)
    claim = outlook["claim"]
    triggers = outlook["triggers"]
    return {
        # A loan that is neither overdue nor otherwise in trouble (no death recorded, no claim
        # possible yet) and has no claim gets no card (issue 14: on a current loan it was noise,
        # with a button nobody needed).
        "relevant": claim is not None
        or loan.state == "overdue"
        or (loan.days_past_due or 0) > 0
        or (loan.outstanding > 0 and loan.maturity_on < timezone.localdate())
        or any(row["open"] or row["trigger"] == "death" for row in triggers),
        "loan": loan,
        "claim": claim,
        "live": claim is not None and claim.state in LIVE,
        # Village and township staff see the loan but not the fund's claims.
        "claim_visible": user is not None and selectors.fund_q(user) != selectors.NOTHING,
        "triggers": triggers,
        "has_fund": outlook["fund"] is not None,
        "can_file": outlook["open"]
        and user is not None
        and user.is_authenticated
        and is_filing_officer(user, loan),
    }
