"""The Chinese 404, 403 and 500 pages (issue 14): in the demo (DEBUG on, FRIENDLY_ERROR_PAGES on)
a missing page was Django's English technical page, which also names the model and the lookup
that failed. With the setting on, pages answer the project's own templates; the API keeps its
JSON errors."""

import logging

import pytest
from django.template import loader
from django.test import Client, override_settings
from django.urls import include, path

from config import views as config_views
from tests.factories import HouseholdFactory

pytestmark = pytest.mark.django_db

DEMO = override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=True)
TECHNICAL = ("Page not found at", "Using the URLconf", "Traceback", "Request Method", "DEBUG = True")


def quiet_client(user=None) -> Client:
    """A client that receives the 500 page instead of re-raising the view's exception."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def assert_no_technical_page(html: str) -> None:
    for marker in TECHNICAL:
        assert marker not in html, f"Django's technical page ({marker!r}) instead of the project's"


@DEMO
def test_an_unknown_address_answers_the_chinese_404_page_with_the_menu(world, client_as):
    response = client_as(world.cadre).get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_no_technical_page(html)
    assert "页面不存在" in html and "返回首页" in html
    assert 'class="mainnav"' in html  # the menu is there to go on from


@DEMO
def test_a_record_of_another_area_answers_the_same_404_page_and_names_nothing(world, client_as):
    elsewhere = HouseholdFactory(village=world.vz, registration_no="4503231012019999", head__name="欧阳秀英")
    response = client_as(world.cadre).get(f"/households/{elsewhere.pk}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_no_technical_page(html)
    assert "页面不存在" in html
    for secret in ("4503231012019999", "欧阳秀英", "Household", "matches the given query"):
        assert secret not in html


@DEMO
def test_an_unknown_address_without_a_login_answers_the_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_no_technical_page(response.content.decode())
    assert "页面不存在" in response.content.decode()


@DEMO
def test_a_missing_trailing_slash_is_still_redirected(world, client_as):
    response = client_as(world.cadre).get("/households")
    assert response.status_code == 301 and response["Location"] == "/households/"


@DEMO
def test_permission_denied_answers_the_chinese_403_page(world, client_as):
    response = client_as(world.cadre).get("/loans/acceptance/")
    assert response.status_code == 403
    html = response.content.decode()
    assert_no_technical_page(html)
    assert "无权操作" in html


@DEMO
def test_an_unhandled_error_answers_the_chinese_500_page_and_is_logged(world, monkeypatch, caplog):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("the home page broke")

    monkeypatch.setattr(config_views.HomeView, "get", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = quiet_client(world.cadre).get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert_no_technical_page(html)
    assert "系统出错了" in html and "返回首页" in html
    assert "the home page broke" not in html
    # The traceback is in the log for whoever runs the demo.
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and "the home page broke" in str(logged[0].exc_info[1])


def test_the_500_page_renders_without_the_database(django_db_blocker):
    """When the database is what failed, the 500 page must still render: no query, no session."""
    with django_db_blocker.block():
        html = loader.get_template("500.html").render()
    assert "系统出错了" in html or "System error" in html
    assert "/static/css/error.css" in html


@DEMO
def test_api_errors_stay_json(world, api_as, monkeypatch):
    client = api_as(world.cadre)
    unknown = client.get("/api/v1/no-such-thing/")
    assert unknown.status_code == 404 and unknown["Content-Type"].startswith("application/json")
    assert unknown.json()["code"] == "not_found"

    elsewhere = HouseholdFactory(village=world.vz)
    hidden = client.get(f"/api/v1/households/{elsewhere.pk}/")
    assert hidden.status_code == 404 and hidden["Content-Type"].startswith("application/json")


def boom(request):
    raise RuntimeError("outside DRF")


# The project's URLs plus a page and an API path whose plain Django views fail.
urlpatterns = [path("boom/", boom), path("api/boom/", boom), path("", include("config.urls"))]


@DEMO
@override_settings(ROOT_URLCONF=__name__)
def test_an_error_outside_drf_answers_json_under_api_and_the_page_elsewhere(world):
    """An exception that reaches the middleware on an /api/ path answers the API's JSON 500 (API.md),
    not the HTML page; the same exception on a page answers the page."""
    client = quiet_client(world.cadre)
    response = client.get("/api/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "server_error"

    response = client.get("/boom/")
    assert response.status_code == 500 and "系统出错了" in response.content.decode()


@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=False)
def test_without_the_setting_debug_shows_djangos_own_page(world, client_as):
    """The setting is what changes the page (so production, with DEBUG off, is unaffected)."""
    response = client_as(world.cadre).get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found at" in html or "Using the URLconf" in html


def test_the_demo_settings_turn_the_pages_on():
    from config.settings import local

    assert local.DEBUG and local.FRIENDLY_ERROR_PAGES
    assert "core.middleware.FriendlyErrorPagesMiddleware" in local.MIDDLEWARE
