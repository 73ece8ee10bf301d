"""Who may service a loan after disbursement (DOMAIN §1): loan officers and administrators record
settlements, repayments, insurance, borrower events and a loan's account. One rule for services,
the API and the pages."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from accounts.models import Role
from core.exceptions import NotPermitted


def can_service(user) -> bool:
    """Loan officers and administrators record settlements and repayments (DOMAIN §1)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.LOAN_OFFICER, Role.ADMIN)


def not_permitted_message() -> str:
    return _("Only loan officers and administrators may record settlements and repayments.")


def require_servicer(user, message: str | None = None, *, page: bool = False) -> None:
    """Refuse anyone who may not service loans.

    Services and the API raise NotPermitted (403 `permission_denied`) with `message`, by default
    the settlements-and-repayments one. A page (`page=True`) raises Django's PermissionDenied
    instead, which renders the 403 page; that page shows no message."""
    if can_service(user):
        return
    if page:
        raise PermissionDenied
    raise NotPermitted(message or not_permitted_message())


def require_loan_in_scope(user, loan) -> None:
    """Refuse a loan outside the user's area (403 `permission_denied`): services re-check what the
    edges already scoped, since a service may be called with any loan."""
    # Imported here: the selectors read the models, which the permissions must not need at import.
    from .selectors import loan_list

    if not loan_list(user=user).filter(pk=loan.pk).exists():
        raise NotPermitted(_("This loan is outside your area."))
