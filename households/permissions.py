from accounts.models import Role

# Roles whose work needs the full ID number (entering it, rating, contracts). Everyone else,
# and every list and public notice, sees only the masked form (PIPL art.28; DOMAIN §2).
FULL_ID_ROLES = (Role.VILLAGE_CADRE, Role.LOAN_OFFICER, Role.APPROVER, Role.ADMIN)


def can_see_full_id(user) -> bool:
    return user.is_authenticated and user.has_role(*FULL_ID_ROLES)
