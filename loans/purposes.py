"""Loan purposes (DOMAIN §3). The list holds the forbidden purposes too, so that a cadre who
picks one is told the rule and its source instead of finding no matching choice."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    PLANTING = "planting", _("Planting")
    BREEDING = "breeding", _("Livestock and aquaculture")
    RURAL_TOURISM = "rural_tourism", _("Rural tourism")
    SERVICES = "services", _("Repair, processing, catering or a small shop")
    TRADING = "trading", _("Sales and purchasing")
    HOUSE_BUILDING = "house_building", _("Building or buying a house (forbidden)")
    WEALTH_MANAGEMENT = "wealth_management", _("Wealth management or investment products (forbidden)")
    HOUSEHOLD_GOODS = "household_goods", _("Household goods (forbidden)")
    CONSUMPTION = "consumption", _("Other non-productive spending (forbidden)")
    FINANCING_PLATFORM = "financing_platform", _("Government financing platforms (forbidden)")
    REAL_ESTATE = "real_estate", _("Real estate (forbidden)")
    INFRASTRUCTURE = "infrastructure", _("Infrastructure construction (forbidden)")


PRODUCTIVE = frozenset(
    {Purpose.PLANTING, Purpose.BREEDING, Purpose.RURAL_TOURISM, Purpose.SERVICES, Purpose.TRADING}
)
FORBIDDEN = frozenset(set(Purpose) - PRODUCTIVE)
SOURCE = "P2 §4(5); P3 §1; DOMAIN §3"
