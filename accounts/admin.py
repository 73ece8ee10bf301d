"""Django admin is the system administrators' tool (staff users): users, units and roles.

A staff user who is not a superuser administers only their own part of the tree (issue 10, ASVS
V8): they see the users and units at or below their unit, change only users whose roles they hold
themselves, grant only roles they hold, and can never make anyone staff or superuser; otherwise
an administrator could tick "superuser" on themselves, or reset the password of a finance officer
and approve subsidies as them. Every change to a user and their roles is audited with the values
before and after, in the admin's own transaction."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.audit import audit
from core.models import AuditEvent
from core.selectors import audit_scope_q

from .models import OrgUnit, Role, User
from .services import check_roles_fit_unit, user_tokens_revoke

# What an audit row keeps of a user, before and after a change (never the password hash).
AUDITED_USER_FIELDS = (
    "username",
    "name",
    "phone",
    "email",
    "unit_id",
    "is_active",
    "is_staff",
    "is_superuser",
)


def unit_subtree(unit: OrgUnit | None):
    """The units at or below `unit`: the tree has a fixed depth (county → township → village,
    bank → branch), so two parent hops reach every descendant."""
    if unit is None:
        return OrgUnit.objects.none()
    return OrgUnit.objects.filter(Q(pk=unit.pk) | Q(parent=unit.pk) | Q(parent__parent=unit.pk))


def manageable_users(actor):
    """Users `actor` may change: a superuser any; anyone else only non-superusers of their own
    subtree whose every role the actor holds too (so no password reset becomes a way into a role)."""
    if actor.is_superuser:
        return User.objects.all()
    held = list(actor.role_codes)
    return (
        User.objects.filter(is_superuser=False, unit__in=unit_subtree(actor.unit))
        .exclude(roles__in=Role.objects.exclude(code__in=held))
        .distinct()
    )


def _unit_snapshot(unit: OrgUnit) -> dict:
    return {f: getattr(unit, f) for f in ("kind", "code", "name", "parent_id")}


def _snapshot(user: User) -> dict:
    data = {f: getattr(user, f) for f in AUDITED_USER_FIELDS}
    data["roles"] = sorted(user.roles.values_list("code", flat=True)) if user.pk else []
    return data


class ScopedUserFormMixin:
    """The checks every admin user form runs for a non-superuser: the unit inside their subtree,
    no role they do not hold themselves. `acting_user` is set by UserAdmin.get_form."""

    acting_user = None

    def clean(self):
        cleaned = super().clean()
        actor = self.acting_user
        if actor is None or actor.is_superuser:
            return cleaned
        unit = cleaned.get("unit")
        outside = unit is None or not unit_subtree(actor.unit).filter(pk=unit.pk).exists()
        if "unit" in self.fields and outside:
            self.add_error("unit", gettext("You can only place users in your own unit or below it."))
        roles = cleaned.get("roles")
        if roles is not None:
            before = set(self.instance.roles.values_list("code", flat=True)) if self.instance.pk else set()
            granted = {r.code for r in roles} - before
            beyond = sorted(granted - set(actor.role_codes))
            if beyond:
                self.add_error(
                    "roles",
                    gettext("You can only grant roles you hold yourself; not: %(roles)s.")
                    % {"roles": "、".join(str(dict(Role.CHOICES)[c]) for c in beyond)},
                )
        return cleaned


class UserAdminForm(ScopedUserFormMixin, UserChangeForm):
    # UserChangeForm shows the password as a read-only summary with a link to the admin's
    # password page, instead of the hash in an editable box.
    class Meta(UserChangeForm.Meta):
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


class UserAddForm(ScopedUserFormMixin, AdminUserCreationForm):
    pass


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserAdminForm
    add_form = UserAddForm
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
        qs = super().get_queryset(request).prefetch_related("roles")
        if request.user.is_superuser:
            return qs
        return qs.filter(is_superuser=False, unit__in=unit_subtree(request.user.unit))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser makes staff or superusers: the flags are shown, never editable.
            readonly += ["is_staff", "is_superuser"]
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "unit" and not request.user.is_superuser:
            kwargs["queryset"] = unit_subtree(request.user.unit)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _manageable(self, request, obj) -> bool:
        return obj is None or manageable_users(request.user).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._manageable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._manageable(request, obj)

    # Audit. save_model runs before the roles are saved (save_related), so the row is written
    # there, with the state taken before the form was applied.

    def save_model(self, request, obj, form, change):
        if change and not request.user.is_superuser:
            stored = User.objects.get(pk=obj.pk)
            # The read-only fields never reach the form; this holds even if a form is swapped.
            obj.is_staff, obj.is_superuser = stored.is_staff, stored.is_superuser
        request._audit_user_before = _snapshot(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        before = getattr(request, "_audit_user_before", None)
        after = _snapshot(user)
        if before is None:
            audit(actor=request.user, action="user.create", obj=user, data={"before": None, "after": after})
            return
        changed = {k for k in after if k != "roles" and before[k] != after[k]}
        if changed:
            audit(
                actor=request.user,
                action="user.update",
                obj=user,
                data={
                    "before": {k: before[k] for k in sorted(changed)},
                    "after": {k: after[k] for k in sorted(changed)},
                },
            )
        if before["roles"] != after["roles"]:
            audit(
                actor=request.user,
                action="user.roles_change",
                obj=user,
                data={
                    "before": before["roles"],
                    "after": after["roles"],
                    "granted": sorted(set(after["roles"]) - set(before["roles"])),
                    "revoked": sorted(set(before["roles"]) - set(after["roles"])),
                },
            )

    def delete_model(self, request, obj):
        self._audit_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The changelist's bulk delete asks has_delete_permission without an object.
        if queryset.exclude(pk__in=manageable_users(request.user).values("pk")).exists():
            raise PermissionDenied
        for user in queryset:
            self._audit_delete(request, user)
        super().delete_queryset(request, queryset)

    def _audit_delete(self, request, user):
        audit(
            actor=request.user,
            action="user.delete",
            obj=user,
            data={"before": _snapshot(user), "after": None},
        )

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                target = User.objects.get(pk=id)
                # A password set by an administrator ends the user's API tokens, as a change by
                # the user does (the sessions end through Django's session hash).
                user_tokens_revoke(user=target)
                audit(actor=request.user, action="user.password_set", obj=target)
        return response

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

    # A non-superuser works inside their own subtree: moving another county's township under
    # their own would widen what they (and everyone there) can see.
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=unit_subtree(request.user.unit))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent" and not request.user.is_superuser:
            kwargs["queryset"] = unit_subtree(request.user.unit)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["served_townships"]
            if obj is not None and obj.pk == request.user.unit_id:
                # Their own unit's place in the tree is not theirs to change.
                readonly += ["kind", "parent", "code"]
        return readonly

    def save_model(self, request, obj, form, change):
        before = _unit_snapshot(OrgUnit.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        after = _unit_snapshot(obj)
        audit(
            actor=request.user,
            action="orgunit.update" if change else "orgunit.create",
            obj=obj,
            data={"before": before, "after": after},
        )


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """The roles are fixed by the code (DOMAIN §1): listed, never added, renamed or deleted."""

    list_display = ("code", "__str__")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is never edited. An administrator sees the events of their own
    county, as on the audit page (core.selectors.audit_scope_q)."""

    list_display = ("at", "actor", "address", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "reason", "actor__username")
    list_select_related = ("actor",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(audit_scope_q(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.site_header = _("Poverty-alleviation microcredit: system administration")
admin.site.site_title = _("System administration")
