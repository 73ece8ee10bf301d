"""Households in Django admin, for administrators to look things up. Read-only: changes go
through the pages and the API, whose services check the rules and write the audit trail. The
encrypted ID column and its hash are never shown; the masked number is."""

from django.contrib import admin

from .models import BlacklistEntry, CreditRating, Household, Member


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberInline(admin.TabularInline):
    model = Member
    fields = (
        "name",
        "id_number_masked",
        "birth_date",
        "is_male",
        "relation",
        "is_head",
        "phone",
        "labour_capacity",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ("registration_no", "village", "poverty_status", "exited_on", "updated_at")
    list_filter = ("poverty_status",)
    search_fields = ("registration_no", "members__name")
    list_select_related = ("village",)
    inlines = [MemberInline]


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ("name", "id_number_masked", "household", "relation", "is_head", "birth_date")
    fields = (
        "household",
        "name",
        "id_number_masked",
        "birth_date",
        "is_male",
        "relation",
        "is_head",
        "phone",
        "labour_capacity",
    )
    readonly_fields = fields
    search_fields = ("name", "household__registration_no")
    list_select_related = ("household",)


@admin.register(CreditRating)
class CreditRatingAdmin(ReadOnlyAdmin):
    list_display = (
        "household",
        "score",
        "grade",
        "credit_limit",
        "valid_from",
        "valid_to",
        "branch",
        "rated_by",
    )
    list_filter = ("grade",)
    search_fields = ("household__registration_no",)
    list_select_related = ("household", "branch", "rated_by")


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ReadOnlyAdmin):
    list_display = ("household", "reason", "added_by", "added_at", "removed_at", "removed_by")
    list_filter = (("removed_at", admin.EmptyFieldListFilter),)
    search_fields = ("household__registration_no", "reason")
    list_select_related = ("household", "added_by", "removed_by")
