"""`fund_headroom` for every page's template: the leverage headroom of the funds the user works
under (riskfund.selectors.headroom_for), which the home page and the bank's approval and
disbursement queues show. loans may not import riskfund, so the figures reach its templates this
way. Lazy: nothing is read unless a template uses it, and nothing at all for roles that see no
fund."""

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .selectors import headroom_for


def headroom(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"fund_headroom": []}
    return {"fund_headroom": SimpleLazyObject(lambda: headroom_for(user, timezone.localdate()))}
