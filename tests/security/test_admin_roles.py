"""Attacks on the admin site and the roles (issue 10, ASVS V8): a staff administrator who is not a
superuser tries to make themselves (or anyone) superuser or staff, to grant roles they do not hold,
to work on users outside their unit or above their roles; a superuser tries to act in a business
role. Each attack fails, and every change to users and roles leaves an audit row."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import Role, User
from core.exceptions import NotPermitted
from core.models import AuditEvent
from households.services.blacklist import blacklist_add, blacklist_removal_approve, blacklist_removal_request
from subsidies.models import SubsidyBatch
from subsidies.services import batch_approve
from tests.factories import HouseholdFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_admin(world):
    """The demo's administrator: staff with the admin role and the admin group's permissions
    (seed_demo), not a superuser."""
    group = Group.objects.create(name="系统管理员")
    group.permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    world.admin.is_staff = True
    world.admin.save()
    world.admin.groups.add(group)
    return world.admin


def change_data(user, **overrides):
    """What the admin's change form posts for `user`, with `overrides` applied."""
    data = {
        "username": user.username,
        "name": user.name,
        "phone": user.phone,
        "email": user.email,
        "unit": user.unit_id or "",
        "roles": list(user.roles.values_list("code", flat=True)),
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not False}


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def test_a_staff_admin_cannot_make_itself_superuser_or_grant_itself_a_role(world, client_as, staff_admin):
    client = client_as(staff_admin)
    r = client.get(change_url(staff_admin))
    assert r.status_code == 200
    form = r.context["adminform"].form
    assert "is_superuser" not in form.fields and "is_staff" not in form.fields
    # The attack: tick superuser (and staff) in a hand-made POST.
    r = client.post(change_url(staff_admin), change_data(staff_admin, is_superuser="on", is_staff="on"))
    staff_admin.refresh_from_db()
    assert not staff_admin.is_superuser
    # Granting itself finance (a county role it does not hold) is refused with the rule's message.
    r = client.post(change_url(staff_admin), change_data(staff_admin, roles=[Role.ADMIN, Role.FINANCE]))
    assert r.status_code == 200
    assert "您只能授予自己拥有的角色" in " ".join(r.context["adminform"].form.errors["roles"])
    staff_admin = User.objects.get(pk=staff_admin.pk)
    assert staff_admin.role_codes == {Role.ADMIN}
    assert not staff_admin.has_role(Role.FINANCE, Role.APPROVER, Role.LOAN_OFFICER)


def test_a_staff_admin_cannot_make_another_user_staff(world, client_as, staff_admin):
    clerk = UserFactory(unit=world.county)  # no role: within what the admin may manage
    client = client_as(staff_admin)
    r = client.post(change_url(clerk), change_data(clerk, is_staff="on", is_superuser="on", name="新名字"))
    assert r.status_code == 302, r.context["adminform"].form.errors
    clerk.refresh_from_db()
    assert clerk.name == "新名字"
    assert not clerk.is_staff and not clerk.is_superuser


def test_a_staff_admin_grants_only_roles_it_holds_and_only_in_its_subtree(world, client_as, staff_admin):
    clerk = UserFactory(unit=world.county)
    client = client_as(staff_admin)
    r = client.post(change_url(clerk), change_data(clerk, roles=[Role.COUNTY_OFFICE]))
    assert r.status_code == 200 and "roles" in r.context["adminform"].form.errors
    assert not clerk.roles.exists()
    r = client.post(change_url(clerk), change_data(clerk, roles=[Role.ADMIN]))
    assert r.status_code == 302
    assert User.objects.get(pk=clerk.pk).role_codes == {Role.ADMIN}
    # Another county's unit is not a choice.
    r = client.post(change_url(clerk), change_data(clerk, unit=world.other_county.pk, roles=[Role.ADMIN]))
    assert r.status_code == 200 and "unit" in r.context["adminform"].form.errors
    clerk.refresh_from_db()
    assert clerk.unit == world.county


def test_a_staff_admin_cannot_take_over_users_with_other_roles_or_outside_its_area(
    world, client_as, staff_admin
):
    client = client_as(staff_admin)
    # The finance officer of its own county: visible, but neither changeable nor its password.
    assert client.get(change_url(world.finance)).status_code == 200
    r = client.post(change_url(world.finance), change_data(world.finance, is_active=False))
    assert r.status_code == 403
    r = client.post(
        reverse("admin:auth_user_password_change", args=[world.finance.pk]),
        {"password1": "Xk9#mPq2vLr8", "password2": "Xk9#mPq2vLr8"},
    )
    assert r.status_code == 403
    world.finance.refresh_from_db()
    assert world.finance.is_active and world.finance.check_password("pass12345")
    # Another county's user and a superuser do not exist for it.
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    for user in (world.other_cadre, root):
        r = client.get(change_url(user))
        assert r.status_code == 302 and r.url == reverse("admin:index")
    listed = set(client.get(reverse("admin:accounts_user_changelist")).context["cl"].result_list)
    assert world.finance in listed and world.other_cadre not in listed and root not in listed


def test_a_superuser_holds_no_business_role(world):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    assert not any(root.has_role(code) for code, _label in Role.CHOICES)
    # It cannot approve a blacklist removal or a subsidy batch in anybody's place.
    household = HouseholdFactory(village=world.v1a)
    entry = blacklist_add(acting_user=world.officer, household=household, reason="恶意逃债")
    removal = blacklist_removal_request(acting_user=world.officer, entry=entry, basis="exception", reason="x")
    with pytest.raises(NotPermitted):
        blacklist_removal_approve(acting_user=root, removal=removal)
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=root, household=HouseholdFactory(village=world.v1a), reason="x")
    batch = SubsidyBatch.objects.create(
        county=world.county, year=2026, quarter=1, state="reviewed", reviewed_by=world.finance
    )
    with pytest.raises(NotPermitted):
        batch_approve(acting_user=root, batch=batch)
    batch.refresh_from_db()
    assert batch.state == "reviewed" and batch.approved_by is None


def test_user_and_role_changes_are_audited_with_before_and_after(world, client_as):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = client_as(root)
    r = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newclerk",
            "name": "新办事员",
            "unit": world.county.pk,
            "password1": "Xk9#mPq2vLr8",
            "password2": "Xk9#mPq2vLr8",
            "usable_password": "true",
        },
    )
    assert r.status_code == 302, r.context["adminform"].form.errors
    user = User.objects.get(username="newclerk")
    created = AuditEvent.objects.get(action="user.create", object_id=str(user.pk))
    assert created.actor == root and created.data["after"]["unit_id"] == world.county.pk

    r = client.post(change_url(user), change_data(user, roles=[Role.FINANCE], is_staff="on", name="改名"))
    assert r.status_code == 302
    update = AuditEvent.objects.get(action="user.update", object_id=str(user.pk))
    assert update.data == {
        "before": {"is_staff": False, "name": "新办事员"},
        "after": {"is_staff": True, "name": "改名"},
    }
    roles = AuditEvent.objects.get(action="user.roles_change", object_id=str(user.pk))
    assert roles.data == {"before": [], "after": ["finance"], "granted": ["finance"], "revoked": []}

    client.post(change_url(user), change_data(user, roles=[], is_staff="on"))
    revoked = AuditEvent.objects.filter(action="user.roles_change", object_id=str(user.pk)).latest("id")
    assert revoked.data["revoked"] == ["finance"]

    r = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "Zq7!wErT5yUi", "password2": "Zq7!wErT5yUi", "usable_password": "true"},
    )
    assert r.status_code == 302
    assert AuditEvent.objects.filter(action="user.password_set", object_id=str(user.pk), actor=root).exists()

    victim = UserFactory(unit=world.county)
    r = client.post(reverse("admin:accounts_user_delete", args=[victim.pk]), {"post": "yes"})
    assert r.status_code == 302
    deleted = AuditEvent.objects.get(action="user.delete", object_id=str(victim.pk))
    assert deleted.data["before"]["username"] == victim.username and deleted.data["after"] is None


def test_a_staff_admin_cannot_pull_another_countys_units_into_its_own(world, client_as, staff_admin):
    client = client_as(staff_admin)
    url = reverse("admin:accounts_orgunit_change", args=[world.tz.pk])
    r = client.post(
        url, {"kind": "township", "code": world.tz.code, "name": world.tz.name, "parent": world.county.pk}
    )
    assert r.status_code == 302 and r.url == reverse("admin:index")
    world.tz.refresh_from_db()
    assert world.tz.parent == world.other_county
    # Inside its own county it works, and the change is audited.
    url = reverse("admin:accounts_orgunit_change", args=[world.v1b.pk])
    r = client.post(
        url, {"kind": "village", "code": world.v1b.code, "name": "新茶洞村", "parent": world.t1.pk}
    )
    assert r.status_code == 302
    event = AuditEvent.objects.get(action="orgunit.update", object_id=str(world.v1b.pk))
    assert (event.data["before"]["name"], event.data["after"]["name"]) == ("茶洞村", "新茶洞村")


def test_a_staff_admin_cannot_bulk_delete_users_it_may_not_manage(world, client_as, staff_admin):
    clerk = UserFactory(unit=world.county)
    client = client_as(staff_admin)
    r = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [clerk.pk, world.finance.pk], "post": "yes"},
    )
    assert r.status_code == 403
    assert User.objects.filter(pk__in=[clerk.pk, world.finance.pk]).count() == 2
    assert not AuditEvent.objects.filter(action="user.delete").exists()
    # A user it may manage goes, with an audit row.
    r = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [clerk.pk], "post": "yes"},
    )
    assert r.status_code == 302 and not User.objects.filter(pk=clerk.pk).exists()
    assert AuditEvent.objects.get(action="user.delete").data["before"]["username"] == clerk.username


def test_a_password_set_in_the_admin_site_ends_the_users_api_tokens(world, client_as):
    from knox.models import AuthToken

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    AuthToken.objects.create(user=world.finance)
    r = client_as(root).post(
        reverse("admin:auth_user_password_change", args=[world.finance.pk]),
        {"password1": "Zq7!wErT5yUi", "password2": "Zq7!wErT5yUi", "usable_password": "true"},
    )
    assert r.status_code == 302
    assert not AuthToken.objects.filter(user=world.finance).exists()


def test_the_admin_sites_audit_list_shows_only_the_admins_county(world, client_as, staff_admin):
    from core.audit import audit

    staff_admin.groups.first().permissions.add(Permission.objects.get(codename="view_auditevent"))
    here = HouseholdFactory(village=world.v1a)
    there = HouseholdFactory(village=world.vz)
    audit(actor=world.cadre, action="household.update", obj=here, reason="本县的修改")
    audit(actor=None, action="household.update", obj=there, reason="外县的修改")
    r = client_as(staff_admin).get(reverse("admin:core_auditevent_changelist"))
    assert r.status_code == 200
    assert "本县的修改" in r.content.decode()
    assert "外县的修改" not in r.content.decode()
    other = AuditEvent.objects.get(reason="外县的修改")
    assert client_as(staff_admin).get(
        reverse("admin:core_auditevent_change", args=[other.pk])
    ).status_code in (
        302,
        404,
    )
