"""Django admin is the system administrators' tool (staff users): users, units and roles."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from core.models import AuditEvent

from .models import OrgUnit, Role, User
from .services import check_roles_fit_unit


class UserAdminForm(forms.ModelForm):
    class Meta:
        model = User
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def clean(self):
        cleaned = super().clean()
        roles = cleaned.get("roles")
        if roles is not None:
            try:
                check_roles_fit_unit(unit=cleaned.get("unit"), role_codes=[r.code for r in roles])
            except forms.ValidationError as e:
                self.add_error("roles", e.message_dict["roles"])
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserAdminForm
    list_display = ("username", "name", "unit", "role_list", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "roles", "unit__kind")
    search_fields = ("username", "name", "phone")
    list_select_related = ("unit",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("name", "phone", "email")}),
        (_("Place and roles"), {"fields": ("unit", "roles")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "name", "unit", "password1", "password2")}),
    )
    filter_horizontal = ("roles",)
    autocomplete_fields = ("unit",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description=_("roles"))
    def role_list(self, obj):
        return "、".join(str(r) for r in obj.roles.all())


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    filter_horizontal = ("served_townships",)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("code", "__str__")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is never edited."""

    list_display = ("at", "actor", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "reason", "actor__username")
    list_select_related = ("actor",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.site_header = _("Poverty-alleviation microcredit: system administration")
admin.site.site_title = _("System administration")
