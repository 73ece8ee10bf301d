"""Who may do what with households. Services enforce these; pages and the API use the same
functions only to decide which buttons to show and to answer 403 early."""

from accounts.models import OrgUnit, Role

# Roles whose work needs the full ID number (entering it, rating, contracts). Everyone else,
# and every list and public notice, sees only the masked form (PIPL art.28; DOMAIN §2).
FULL_ID_ROLES = (Role.VILLAGE_CADRE, Role.LOAN_OFFICER, Role.APPROVER, Role.ADMIN)

# Households are entered by the village and may be corrected by the township, the county
# office and administrators (DOMAIN §1).
HOUSEHOLD_EDITORS = (Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICE, Role.ADMIN)

# The blacklist is kept by the county office (DOMAIN §1); the bank's loan officers add
# malicious defaulters they are collecting from (P1 art.22).
BLACKLIST_KEEPERS = (Role.COUNTY_OFFICE, Role.LOAN_OFFICER, Role.ADMIN)


def can_see_full_id(user) -> bool:
    return user.is_authenticated and user.has_role(*FULL_ID_ROLES)


def can_edit_households(user) -> bool:
    return user.is_authenticated and user.has_role(*HOUSEHOLD_EDITORS)


def can_keep_blacklist(user) -> bool:
    return user.is_authenticated and user.has_role(*BLACKLIST_KEEPERS)


def rating_branch(user) -> OrgUnit | None:
    """The branch a user rates for: only a loan officer who belongs to a branch rates, because
    the rating records the branch and a bank head office does not serve townships itself."""
    if not user.is_authenticated or Role.LOAN_OFFICER not in user.role_codes:
        return None
    unit = user.unit
    if unit is None or unit.kind != OrgUnit.Kind.BRANCH:
        return None
    return unit


def can_rate(user, household=None) -> bool:
    """A loan officer of a branch serving the household's township."""
    branch = rating_branch(user)
    if branch is None:
        return False
    if household is None:
        return True
    return branch.served_townships.filter(pk=household.village.parent_id).exists()
