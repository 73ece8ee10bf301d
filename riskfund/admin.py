"""The fund's records in Django admin, for administrators to look things up. Read-only: money moves
only through the ledger services (balanced, audited, never below zero) and a claim's state only
through its workflow; the database refuses changes to the ledger anyway. An administrator sees the
funds of their own county (or bank), as core's audit trail does."""

from django.contrib import admin
from django.db.models import Q

from accounts.models import OrgUnit
from accounts.scoping import NOTHING

from .models import ClaimHistory, CompensationClaim, LedgerEntry, LedgerTransaction, Recovery, RiskFund


def admin_scope_q(user, path: str) -> Q:
    """The funds an administrator looks up: all of them for a superuser without a unit (system
    maintenance), those of the user's county, or of their bank (a branch's parent); else none."""
    prefix = f"{path}__" if path else ""
    unit = getattr(user, "unit", None)
    if user.is_superuser and unit is None:
        return Q()
    if unit is None:
        return NOTHING
    if unit.kind == OrgUnit.Kind.COUNTY:
        return Q(**{f"{prefix}county_id": unit.pk})
    if unit.kind in (OrgUnit.Kind.BANK, OrgUnit.Kind.BRANCH):
        return Q(**{f"{prefix}bank_id": unit.pk if unit.kind == OrgUnit.Kind.BANK else unit.parent_id})
    return NOTHING


class ScopedReadOnlyAdmin(admin.ModelAdmin):
    # The lookup path from the model to its fund ("" for the fund itself). Filters by fund offer only
    # the funds in the list (RelatedOnlyFieldListFilter), never another county's names.
    fund_path = "fund"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(admin_scope_q(request.user, self.fund_path))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "amount")


class ClaimHistoryInline(ReadOnlyInline):
    model = ClaimHistory
    fields = ("at", "transition", "from_state", "to_state", "by", "comment")


@admin.register(RiskFund)
class RiskFundAdmin(ScopedReadOnlyAdmin):
    fund_path = ""
    list_display = ("name", "county", "bank", "account_no", "opened_on", "created_by")
    list_filter = (("bank", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "account_no", "county__name", "bank__name")
    list_select_related = ("county", "bank", "created_by")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ScopedReadOnlyAdmin):
    list_display = (
        "id",
        "fund",
        "kind",
        "booked_on",
        "memo",
        "reference",
        "reverses",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", ("fund", admin.RelatedOnlyFieldListFilter))
    search_fields = ("memo", "reference")
    list_select_related = ("fund", "created_by", "reverses")
    date_hierarchy = "booked_on"
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ScopedReadOnlyAdmin):
    list_display = ("id", "transaction", "fund", "account", "amount")
    list_filter = ("account", ("fund", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("transaction", "fund")


@admin.register(CompensationClaim)
class CompensationClaimAdmin(ScopedReadOnlyAdmin):
    list_display = ("id", "fund", "loan", "trigger", "state", "loss", "fund_share", "bank_share", "filed_at")
    list_filter = ("state", "trigger", ("fund", admin.RelatedOnlyFieldListFilter))
    search_fields = ("loan__contract_no", "decision_no")
    list_select_related = ("fund", "loan")
    inlines = [ClaimHistoryInline]


@admin.register(Recovery)
class RecoveryAdmin(ScopedReadOnlyAdmin):
    fund_path = "claim__fund"
    list_display = (
        "id",
        "claim",
        "amount",
        "received_on",
        "fund_share",
        "bank_share",
        "due_on",
        "returned_on",
    )
    list_select_related = ("claim",)
    date_hierarchy = "received_on"
