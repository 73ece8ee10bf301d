"""Read-only views in the Django admin. Profiles, rates and calendar years change only through
the services (the policies pages and API), which enforce the append-only rules and audit."""

from django.contrib import admin

from .models import CalendarDay, CalendarYear, PolicyProfile, Rate


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PolicyProfile)
class PolicyProfileAdmin(ReadOnlyAdmin):
    list_display = [
        "county",
        "name",
        "effective_from",
        "rate_basis",
        "amount_max",
        "created_by",
        "created_at",
    ]
    list_filter = ["county", "rate_basis"]
    list_select_related = ["county", "created_by"]
    date_hierarchy = "effective_from"
    search_fields = ["name", "county__name", "source_text"]


@admin.register(Rate)
class RateAdmin(ReadOnlyAdmin):
    list_display = ["kind", "tenor", "effective_from", "annual_rate", "source"]
    list_filter = ["kind", "tenor"]


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    fields = ["date", "is_working_day", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Only the days that differ from a plain week; a whole year would be 365 rows.
        return super().get_queryset(request).exclude(note="")


@admin.register(CalendarYear)
class CalendarYearAdmin(ReadOnlyAdmin):
    list_display = ["year", "source", "loaded_at", "loaded_by"]
    inlines = [CalendarDayInline]


@admin.register(CalendarDay)
class CalendarDayAdmin(ReadOnlyAdmin):
    list_display = ["date", "is_working_day", "note"]
    list_filter = ["year", "is_working_day"]
    date_hierarchy = "date"
