"""Writes for users and org units."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from knox.models import AuthToken

from core.audit import audit

from .models import OrgUnit, Role, User


def check_roles_fit_unit(*, unit: OrgUnit | None, role_codes) -> None:
    """Each role belongs to one kind of unit (DOMAIN §1): a cadre to a village, a loan officer
    to a bank branch, finance staff to a county, and so on."""
    errors = []
    for code in role_codes:
        kinds = Role.UNIT_KINDS[code]
        if unit is None or unit.kind not in kinds:
            errors.append(
                _("The role “%(role)s” needs a unit of kind: %(kinds)s.")
                % {
                    "role": dict(Role.CHOICES)[code],
                    "kinds": "、".join(str(OrgUnit.Kind(k).label) for k in sorted(kinds)),
                }
            )
    if errors:
        raise ValidationError({"roles": errors})


@transaction.atomic
def user_create(
    *, acting_user, username: str, password: str, name: str, unit: OrgUnit, roles, **extra
) -> User:
    role_codes = list(roles)
    check_roles_fit_unit(unit=unit, role_codes=role_codes)
    user = User(username=username, name=name, unit=unit, **extra)
    # The same validators as every other place a password is set (AUTH_PASSWORD_VALIDATORS).
    _validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.roles.set(Role.objects.filter(code__in=role_codes))
    audit(actor=acting_user, action="user.create", obj=user, data={"roles": role_codes, "unit": unit.pk})
    return user


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None


def user_tokens_revoke(*, user: User) -> int:
    """End every API token of the user (logout from the pages, a password change)."""
    deleted, _by_model = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_change(*, acting_user: User, user: User, password: str) -> User:
    """Set a new password after the validators pass. Sessions elsewhere end (Django's session
    hash follows the password) and so do the user's API tokens; the caller keeps the current
    session with `update_session_auth_hash`."""
    _validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    revoked = user_tokens_revoke(user=user)
    audit(actor=acting_user, action="user.password_change", obj=user, data={"tokens_revoked": revoked})
    return user
