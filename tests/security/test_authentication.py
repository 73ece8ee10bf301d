"""Authentication (issue 10, ASVS V6): login throttling and lockout, expiring hashed API tokens
that logout and a password change revoke, session lifetimes, and the password rules everywhere a
password is set. Each test performs the attack and asserts it fails."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from accounts import services
from accounts.models import Role, User

pytestmark = pytest.mark.django_db

PASSWORD = "pass12345"  # tests/factories.py UserFactory
LOCKED = "登录失败次数过多"


def page_login(client, username, password, address="127.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def api_login(api, username, password, address="127.0.0.1"):
    return api.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def later(pinned_clock, **delta):
    pinned_clock.move_to(timezone.now() + datetime.timedelta(**delta))


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


# Lockout (django-axes) ---------------------------------------------------------------------------


def test_guessing_a_password_on_the_login_page_locks_the_account_for_30_minutes(world, client, pinned_clock):
    for attempt in range(4):
        r = page_login(client, "cadre", f"guess-{attempt}")
        assert r.status_code == 200 and "请输入一个正确的" in r.content.decode()
    r = page_login(client, "cadre", "guess-5")
    assert r.status_code == 429
    assert LOCKED in r.content.decode() and "30 分钟" in r.content.decode()
    # Now even the right password is refused, and nobody is logged in.
    r = page_login(client, "cadre", PASSWORD)
    assert r.status_code == 429 and LOCKED in r.content.decode()
    assert not is_logged_in(client)
    # Trying again during the lockout does not extend it: 30 minutes after the fifth failure the
    # account opens again.
    later(pinned_clock, minutes=29)
    assert page_login(client, "cadre", PASSWORD).status_code == 429
    later(pinned_clock, minutes=2)
    r = page_login(client, "cadre", PASSWORD)
    assert r.status_code == 302 and is_logged_in(client)


def test_the_account_stays_locked_from_other_addresses(world, client):
    for n in range(5):
        page_login(client, "cadre", "guess", address=f"10.0.0.{n + 1}")
    r = page_login(Client(), "cadre", PASSWORD, address="10.0.9.9")
    assert r.status_code == 429 and LOCKED in r.content.decode()


def test_one_address_trying_many_accounts_is_locked_out(world, client):
    for username in ("cadre", "township", "county", "officer", "nosuchuser"):
        page_login(client, username, "guess", address="10.1.1.1")
    # A sixth account, with its right password, from the same address: refused.
    r = page_login(Client(), "finance", PASSWORD, address="10.1.1.1")
    assert r.status_code == 429
    # The same account from another address is not locked (no failures for it or there).
    other = Client()
    assert page_login(other, "finance", PASSWORD, address="10.2.2.2").status_code == 302
    assert is_logged_in(other)


def test_guessing_through_the_api_token_endpoint_is_locked_out_with_a_json_error(world, api):
    for attempt in range(4):
        r = api_login(api, "officer", f"guess-{attempt}")
        assert r.status_code == 400 and r.json()["code"] == "invalid"
    r = api_login(api, "officer", "guess-5")
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"message", "code", "extra"}
    assert body["code"] == "locked_out" and body["extra"] == {"cooloff_minutes": 30}
    assert LOCKED in body["message"]
    r = api_login(api, "officer", PASSWORD)
    assert r.status_code == 429 and r.json()["code"] == "locked_out"
    assert not AuthToken.objects.filter(user=world.officer).exists()


def test_failures_on_the_page_and_the_api_count_together(world, client, api):
    for _ in range(3):
        page_login(client, "approver", "guess", address="10.3.3.3")
    for _ in range(2):
        api_login(api, "approver", "guess", address="10.4.4.4")
    assert api_login(api, "approver", PASSWORD, address="10.5.5.5").json()["code"] == "locked_out"


def test_guessing_on_the_admin_login_is_locked_out(world, client):
    world.admin.is_staff = True
    world.admin.save()
    for _ in range(5):
        r = client.post("/admin/login/", {"username": "admin", "password": "guess"})
    assert r.status_code == 429 and LOCKED in r.content.decode()
    r = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    assert client.get("/admin/").status_code == 302  # still the login page


def test_an_administrator_unlocks_an_account_in_the_admin_site(world, client, client_as):
    for _ in range(5):
        page_login(client, "cadre", "guess")
    assert page_login(client, "cadre", PASSWORD).status_code == 429
    # The demo's administrators (seed_demo's group) hold these two permissions.
    admin = world.admin
    admin.is_staff = True
    admin.save()
    admin.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="axes", codename__in=["view_accessattempt", "delete_accessattempt"]
        )
    )
    staff = client_as(admin)
    attempts = list(AccessAttempt.objects.filter(username="cadre").values_list("pk", flat=True))
    assert attempts
    page = staff.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "cadre" in page.content.decode()
    r = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert r.status_code == 302
    assert page_login(Client(), "cadre", PASSWORD).status_code == 302


def test_a_command_unlocks_an_account(world, client):
    for _ in range(5):
        page_login(client, "cadre", "guess")
    call_command("axes_reset_username", "cadre")
    assert page_login(client, "cadre", PASSWORD).status_code == 302


# API rate limits (DRF throttling) ----------------------------------------------------------------


def test_the_token_endpoint_answers_at_most_ten_requests_a_minute_per_address(world, api, pinned_clock):
    for _ in range(10):
        assert api_login(api, "cadre", PASSWORD).status_code == 200
    r = api_login(api, "cadre", PASSWORD)
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and set(r.json()) == {"message", "code", "extra"}
    later(pinned_clock, seconds=61)
    assert api_login(api, "cadre", PASSWORD).status_code == 200


def test_a_user_flooding_the_api_is_throttled(world, api_as, monkeypatch):
    # The configured rate (1200 a minute) would make this test slow; the mechanism is the same.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    api = api_as(world.cadre)
    assert [api.get("/api/v1/regions/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/api/v1/regions/").json()["code"] == "throttled"


# API tokens (django-rest-knox) ------------------------------------------------------------------


def token_for(username, password=PASSWORD):
    r = api_login(APIClient(), username, password)
    assert r.status_code == 200, r.content
    return r.json()


def with_token(token):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_a_token_is_stored_hashed(world):
    token = token_for("cadre")["token"]
    row = AuthToken.objects.get(user=world.cadre)
    assert token not in (row.digest, row.token_key) and row.digest != token
    assert len(row.digest) == 128  # SHA-512


def test_a_token_expires_after_ten_hours(world, pinned_clock):
    issued = token_for("cadre")
    expiry = datetime.datetime.fromisoformat(issued["expiry"])
    assert abs(expiry - (timezone.now() + datetime.timedelta(hours=10))) < datetime.timedelta(minutes=1)
    api = with_token(issued["token"])
    assert api.get("/api/v1/regions/").status_code == 200
    later(pinned_clock, hours=9, minutes=58)
    assert api.get("/api/v1/regions/").status_code == 200
    later(pinned_clock, minutes=3)
    r = api.get("/api/v1/regions/")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_api_logout_revokes_the_token(world):
    token = token_for("cadre")["token"]
    other = token_for("cadre")["token"]
    api = with_token(token)
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/regions/").status_code == 401
    assert with_token(other).get("/api/v1/regions/").status_code == 200


def test_api_logoutall_revokes_every_token_of_the_user(world):
    tokens = [token_for("cadre")["token"] for _ in range(2)]
    colleague = token_for("county")["token"]
    assert with_token(tokens[0]).post("/api/v1/auth/logoutall/").status_code == 204
    assert [with_token(t).get("/api/v1/regions/").status_code for t in tokens] == [401, 401]
    assert with_token(colleague).get("/api/v1/regions/").status_code == 200


def test_logging_out_of_the_pages_revokes_the_users_tokens(world, client):
    token = token_for("cadre")["token"]
    page_login(client, "cadre", PASSWORD)
    assert client.post("/accounts/logout/").status_code == 302
    assert with_token(token).get("/api/v1/regions/").status_code == 401


def test_a_session_cookie_does_not_get_a_token_without_the_password(world, client_as):
    client = client_as(world.cadre)
    r = client.post("/api/v1/auth/token/", {"username": "cadre", "password": "guess"})
    assert r.status_code == 400 and not AuthToken.objects.exists()


# Password change -----------------------------------------------------------------------------------


def test_the_user_menu_links_to_the_password_page(world, client_as):
    html = client_as(world.cadre).get("/").content.decode()
    assert 'href="/accounts/password/"' in html and "修改密码" in html


def test_a_weak_new_password_is_refused_on_the_page(world, client):
    page_login(client, "cadre", PASSWORD)
    page = client.get("/accounts/password/")
    assert page.status_code == 200 and "修改密码" in page.content.decode()
    r = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "这个密码太常见了" in html and "密码只包含数字" in html
    world.cadre.refresh_from_db()
    assert world.cadre.check_password(PASSWORD)


def test_the_page_refuses_a_wrong_current_password(world, client):
    page_login(client, "cadre", PASSWORD)
    r = client.post(
        "/accounts/password/",
        {"old_password": "guess", "new_password1": "Lz7#river-bank", "new_password2": "Lz7#river-bank"},
    )
    assert r.status_code == 200 and "旧密码不正确" in r.content.decode()
    world.cadre.refresh_from_db()
    assert world.cadre.check_password(PASSWORD)


def test_changing_the_password_keeps_this_session_and_ends_tokens_and_other_sessions(world, client):
    token = token_for("cadre")["token"]
    elsewhere = Client()
    page_login(elsewhere, "cadre", PASSWORD, address="10.9.9.9")
    page_login(client, "cadre", PASSWORD)
    r = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "Lz7#river-bank", "new_password2": "Lz7#river-bank"},
    )
    assert r.status_code == 302
    assert "密码已修改" in client.get(r.url).content.decode()
    assert is_logged_in(client)
    assert not is_logged_in(elsewhere)
    assert with_token(token).get("/api/v1/regions/").status_code == 401
    assert api_login(APIClient(), "cadre", PASSWORD).status_code == 400
    assert api_login(APIClient(), "cadre", "Lz7#river-bank").status_code == 200
    from core.models import AuditEvent

    assert AuditEvent.objects.filter(action="user.password_change", object_id=str(world.cadre.pk)).exists()


def test_changing_the_password_through_the_api_checks_the_rules_and_revokes_tokens(world):
    token = token_for("cadre")["token"]
    api = with_token(token)
    r = api.post(
        "/api/v1/auth/password/", {"old_password": "guess", "new_password": "Lz7#river-bank"}, format="json"
    )
    assert r.status_code == 400 and list(r.json()["extra"]["fields"]) == ["old_password"]
    r = api.post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": "cadre123"}, format="json"
    )
    assert r.status_code == 400 and list(r.json()["extra"]["fields"]) == ["new_password"]
    r = api.post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": "Lz7#river-bank"}, format="json"
    )
    assert r.status_code == 204
    assert api.get("/api/v1/regions/").status_code == 401
    assert not AuthToken.objects.filter(user=world.cadre).exists()


def test_user_create_runs_the_password_validators(world):
    for weak in ("12345678", "short", "password", "zhangsan1"):
        with pytest.raises(ValidationError) as refused:
            services.user_create(
                acting_user=world.admin,
                username="zhangsan1",
                password=weak,
                name="张三",
                unit=world.v1a,
                roles=[Role.VILLAGE_CADRE],
            )
        assert "password" in refused.value.message_dict, weak
    assert not User.objects.filter(username="zhangsan1").exists()
    user = services.user_create(
        acting_user=world.admin,
        username="zhangsan1",
        password="Lz7#river-bank",
        name="张三",
        unit=world.v1a,
        roles=[Role.VILLAGE_CADRE],
    )
    assert user.check_password("Lz7#river-bank")


# Sessions ---------------------------------------------------------------------------------------------


def test_a_session_ends_after_30_minutes_without_a_request(world, client, pinned_clock):
    page_login(client, "cadre", PASSWORD)
    # Each request moves the end: three requests 25 minutes apart keep the session.
    for _ in range(3):
        later(pinned_clock, minutes=25)
        assert is_logged_in(client)
    later(pinned_clock, minutes=31)
    r = client.get("/")
    assert r.status_code == 302 and r.url.startswith("/accounts/login/")


def test_a_session_in_constant_use_ends_ten_hours_after_the_login(world, client, pinned_clock):
    page_login(client, "cadre", PASSWORD)
    for _ in range(33):  # 9 h 54 min of steady work
        later(pinned_clock, minutes=18)
        assert is_logged_in(client)
    later(pinned_clock, minutes=7)
    r = client.get("/")
    assert r.status_code == 302 and r.url.startswith("/accounts/login/")
    assert "请重新登录" in client.get(r.url).content.decode()
    # Logging in again starts a new working day.
    page_login(client, "cadre", PASSWORD)
    assert is_logged_in(client)
