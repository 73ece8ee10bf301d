"""Every answer of the API keeps API.md's error shape (issue 10): malformed filters are a 400 naming
the parameter (never a 500 from the database, never silently ignored), bad JSON is a 400
`invalid`, unknown paths a JSON 404, an unhandled error a logged JSON 500, and every message is
Chinese. Each test sends the attack and asserts it is refused in that shape."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.api import MAX_ID
from subsidies.models import SubsidyBatch
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = pytest.mark.django_db

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"message", "code", "extra"}, body
    assert body["code"] == code, body
    assert isinstance(body["extra"], dict), body
    assert CHINESE.search(body["message"]), f"message not in Chinese: {body['message']!r}"
    return body


# ---- filters ------------------------------------------------------------------------------------


def bad_values(schema: dict) -> list[str]:
    """Values a parameter documented by `schema` must refuse, attack by attack."""
    if "oneOf" in schema:  # the page number: a number from 1, or "last"
        return ["abc", "0", "-1", "99999999999999999999999"]
    if "enum" in schema:
        return ["bogus", "<script>"]
    if schema.get("type") == "integer":
        values = ["abc", "1.5", str(2**64), "99999999999999999999999"]
        if schema.get("minimum") is not None:
            values.append(str(schema["minimum"] - 1))
        if schema.get("maximum") is not None and schema["maximum"] < MAX_ID:
            values.append(str(schema["maximum"] + 1))
        return values
    if schema.get("type") == "string" and schema.get("maxLength"):
        return ["x" * (schema["maxLength"] + 1)]
    return []


def list_operations():
    """Every GET of /api/v1/ with query parameters, from the schema the app serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for route, item in schema["paths"].items():
        get = item.get("get")
        if not route.startswith("/api/v1/") or not get:
            continue
        query = [p for p in get.get("parameters", []) if p["in"] == "query"]
        if any(p["name"] == "page" for p in query):  # a paginated list
            yield route, query


@pytest.fixture
def seeded(world):
    household = HouseholdFactory(village=world.v1a)
    loan = LoanFactory(household=household, branch=world.br1)
    batch = SubsidyBatch.objects.create(
        county=world.county, year=2026, quarter=1, profile=world.profile, created_by=world.finance
    )
    return {"household": household, "loan": loan, "batch": batch}


def concrete(route: str, seeded) -> str | None:
    """The route with `{id}` naming a seeded object the county's finance staff can see (None for
    a list under an object finance cannot see, such as an application's photos: those lists
    have the page parameters only, attacked on the others)."""
    if "{id}" not in route:
        return route
    owner = route.removeprefix("/api/v1/").split("/")[0]
    ids = {
        "subsidy-batches": seeded["batch"].pk,
        "households": seeded["household"].pk,
        "loans": seeded["loan"].pk,
    }
    return route.replace("{id}", str(ids[owner])) if owner in ids else None


def test_every_list_filter_refuses_malformed_values(world, seeded, api_as):
    """Out-of-range and negative ids, words for numbers, unknown choices, overlong searches, bad
    page numbers: on every list, each is a 400 `invalid` whose `extra.fields` names the parameter.
    (On SQLite `?household=99999999999999999999999` used to be a 500; subsidy-batches/?state=bogus
    used to answer 200 with the filter ignored.)"""
    api = api_as(world.finance)
    tried = []
    for route, parameters in list_operations():
        url = concrete(route, seeded)
        if url is None:
            continue
        assert api.get(url).status_code == 200, url
        for parameter in parameters:
            values = bad_values(parameter["schema"])
            assert values or parameter["schema"].get("type") == "string", (route, parameter)
            for value in values:
                r = api.get(url, {parameter["name"]: value})
                body = assert_error_shape(r, 400, "invalid")
                assert parameter["name"] in body["extra"]["fields"], (url, parameter["name"], value, body)
                tried.append((route, parameter["name"]))
    routes = {route for route, _ in tried}
    # The lists the issue names, and their filters, are among those attacked.
    for route, name in [
        ("/api/v1/loans/", "household"),
        ("/api/v1/loans/", "state"),
        ("/api/v1/applications/", "household"),
        ("/api/v1/subsidy-batches/", "state"),
        ("/api/v1/subsidy-batches/", "year"),
        ("/api/v1/subsidy-batches/{id}/lines/", "village"),
        ("/api/v1/households/", "village"),
        ("/api/v1/blacklist/", "household"),
        ("/api/v1/checks/", "status"),
        ("/api/v1/loans/overdue/", "bucket"),
        ("/api/v1/policy-profiles/", "county"),
        ("/api/v1/rates/", "kind"),
        ("/api/v1/regions/", "page"),
        ("/api/v1/loans/{id}/repayments/", "page_size"),
    ]:
        assert (route, name) in tried, (route, name)
    assert len(routes) >= 15, routes


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/loans/?household=99999999999999999999999",
        "/api/v1/applications/?household=99999999999999999999999",
        "/api/v1/blacklist/?household=99999999999999999999999",
        "/api/v1/blacklist/?household=abc",
        "/api/v1/households/?village=-99999999999999999999999",
        "/api/v1/subsidy-batches/?year=99999999999999999999999",
        "/api/v1/policy-profiles/?county=99999999999999999999999",
    ],
)
def test_out_of_range_ids_are_a_400_naming_the_parameter(world, api_as, url):
    body = assert_error_shape(api_as(world.county_office).get(url), 400, "invalid")
    name = url.split("?")[1].split("=")[0]
    assert list(body["extra"]["fields"]) == [name]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/loans/99999999999999999999999/",
        "/api/v1/households/99999999999999999999999/ratings/",
        "/api/v1/subsidy-batches/99999999999999999999999/lines/",
        "/api/v1/applications/99999999999999999999999/transitions/",
    ],
)
def test_an_out_of_range_id_in_the_path_is_a_404(world, api_as, url):
    assert_error_shape(api_as(world.county_office).get(url), 404, "not_found")


# The embedded SQLite of `make run` is where `?household=99999999999999999999999` was a 500 (the
# driver refuses an integer past 64 bits). The test process is bound to PostgreSQL, so the probe
# runs in a process of its own on a scratch SQLite file, as tests/subsidies/test_sqlite.py does.
SQLITE_PROBE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ["DATABASE_URL"] = "sqlite:///" + sys.argv[1]
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from accounts.models import OrgUnit, Role, User
county = OrgUnit.objects.create(kind="county", code="459901", name="county")
user = User.objects.create(username="county", name="county office", unit=county)
user.roles.set(Role.objects.filter(code=Role.COUNTY_OFFICE))
client = Client(SERVER_NAME="localhost", raise_request_exception=False)
client.force_login(user)
answers = []
for url in sys.argv[2:]:
    r = client.get(url)
    json_body = r["Content-Type"].startswith("application/json")
    answers.append([url, r.status_code, r.json()["code"] if json_body else None])
print(json.dumps(answers))
"""


def test_out_of_range_ids_are_a_400_on_the_embedded_sqlite_too(tmp_path):
    huge = "99999999999999999999999"
    urls = [
        f"/api/v1/loans/?household={huge}",
        f"/api/v1/applications/?household={huge}",
        f"/api/v1/blacklist/?household={huge}",
        f"/api/v1/households/?village={huge}",
        f"/api/v1/subsidy-batches/?year={huge}",
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SQLITE_PROBE,
            str(tmp_path / "probe.sqlite3"),
            *urls,
            f"/api/v1/loans/{huge}/",
        ],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert [(status, code) for _, status, code in answers] == [(400, "invalid")] * len(urls) + [
        (404, "not_found")
    ]


def test_unknown_states_are_refused_alike_on_every_list(world, api_as):
    api = api_as(world.finance)
    for url in ("/api/v1/loans/", "/api/v1/applications/", "/api/v1/subsidy-batches/", "/api/v1/rates/"):
        param = "kind" if "rates" in url else "state"
        assert_error_shape(api.get(url, {param: "bogus"}), 400, "invalid")


def test_good_filters_still_filter(world, seeded, api_as):
    api = api_as(world.finance)
    r = api.get("/api/v1/subsidy-batches/", {"state": "draft", "year": "2026", "quarter": "1"})
    assert [b["id"] for b in r.json()["results"]] == [seeded["batch"].pk]
    assert api.get("/api/v1/subsidy-batches/", {"year": "2025"}).json()["count"] == 0
    assert api.get("/api/v1/subsidy-batches/", {"state": ""}).json()["count"] == 1
    r = api.get("/api/v1/loans/", {"household": seeded["household"].pk, "page_size": "1000"})
    assert r.status_code == 200 and r.json()["count"] == 1
    assert api.get("/api/v1/loans/", {"page": "last"}).status_code == 200
    assert_error_shape(api.get("/api/v1/loans/", {"page": "9"}), 404, "not_found")


# ---- the body, the method, the media type, the credentials --------------------------------------


def test_bad_json_is_a_400_invalid_in_chinese(world, api_as):
    r = api_as(world.cadre).post(
        "/api/v1/eligibility/", data='{"household": 1,', content_type="application/json"
    )
    body = assert_error_shape(r, 400, "invalid")
    assert body["extra"]["fields"]["non_field_errors"]
    assert "JSON parse error" not in r.content.decode()


def test_a_method_the_route_does_not_take_is_a_405_in_the_shape(world, api_as):
    r = api_as(world.cadre).put("/api/v1/loans/", {}, format="json")
    body = assert_error_shape(r, 405, "method_not_allowed")
    assert "GET" in body["extra"]["allowed"]
    assert "PUT" in body["message"]


def test_an_unsupported_media_type_is_a_415_in_the_shape(world, api_as):
    r = api_as(world.cadre).post("/api/v1/eligibility/", data="household=1", content_type="text/plain")
    assert_error_shape(r, 415, "unsupported_media_type")


def test_an_unacceptable_accept_header_is_a_406_in_the_shape(world, api_as):
    r = api_as(world.cadre).get("/api/v1/loans/", HTTP_ACCEPT="text/csv")
    assert_error_shape(r, 406, "not_acceptable")


def test_no_credentials_is_a_401_in_chinese(api):
    r = api.get("/api/v1/loans/")
    assert_error_shape(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"] == "Token"


def test_a_forged_token_is_a_401_in_chinese(api):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert_error_shape(api.get("/api/v1/loans/"), 401, "not_authenticated")


def test_a_session_write_without_the_csrf_token_is_a_403_in_chinese(world):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(world.cadre)
    r = api.post("/api/v1/eligibility/", {}, format="json")
    body = assert_error_shape(r, 403, "permission_denied")
    assert "CSRF Failed" not in body["message"]


def test_throttling_answers_in_the_shape(world, api_as, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    api = api_as(world.officer)
    api.get("/api/v1/loans/")
    body = assert_error_shape(api.get("/api/v1/loans/"), 429, "throttled")
    assert 0 < body["extra"]["wait"] <= 60


# ---- unknown paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/api/v1/nothing-here/"),
        ("get", "/api/v1/loans/1/nothing/"),
        ("post", "/api/v1/nothing-here/"),
        ("delete", "/api/v1/"),
        ("get", "/api/v2/loans/"),
        ("get", "/api/"),
        ("post", "/api/v1/loans"),
    ],
)
def test_unknown_api_paths_are_a_json_404(world, api_as, method, url):
    r = getattr(api_as(world.cadre), method)(url)
    assert_error_shape(r, 404, "not_found")
    assert b"<html" not in r.content.lower()


def test_unknown_api_paths_are_a_json_404_without_signing_in(api):
    assert_error_shape(api.get("/api/v1/nothing-here/"), 404, "not_found")


def test_a_write_without_the_trailing_slash_is_told_the_address(world, api_as):
    body = assert_error_shape(api_as(world.cadre).post("/api/v1/eligibility", {}), 404, "not_found")
    assert body["extra"]["path"] == "/api/v1/eligibility/"


def test_a_read_without_the_trailing_slash_still_redirects(world, api_as):
    r = api_as(world.cadre).get("/api/v1/loans?state=active")
    assert r.status_code == 301 and r["Location"] == "/api/v1/loans/?state=active"


def test_pages_keep_their_html_404(world, client_as):
    r = client_as(world.cadre).get("/no-such-page/")
    assert r.status_code == 404 and "页面不存在" in r.content.decode()


# ---- unhandled errors --------------------------------------------------------------------------------


class Failing(APIView):
    """An API view with a bug: what reaches the exception handler is no error any rule raised."""

    def get(self, request):
        return {"not": "a response"}["missing"]


def failing_outside_drf(request):
    raise RuntimeError("a bug in a plain view")


class BrokenMiddleware:
    """A bug after the view, where no DRF handler runs: Django's handler500 answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.endswith("/boom-after/"):
            raise RuntimeError("a bug in a middleware")
        return response


# A URLconf for these tests only: the project's routes plus views that fail.
urlpatterns = [
    path("api/v1/boom/", Failing.as_view()),
    path("api/v1/boom-plain/", failing_outside_drf),
    path("api/v1/boom-after/", lambda request: HttpResponse("ok")),
    path("boom-page/", failing_outside_drf),
    path("", include("config.urls")),
]
handler500 = "core.api.server_error"


@pytest.mark.urls(__name__)
def test_an_unhandled_error_in_an_api_view_is_a_logged_json_500(world, caplog):
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(world.cadre)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        r = api.get("/api/v1/boom/")
    assert_error_shape(r, 500, "server_error")
    assert b"KeyError" not in r.content and b"missing" not in r.content  # nothing of the bug leaks
    logged = [rec for rec in caplog.records if rec.name == "django.request" and rec.levelno == logging.ERROR]
    assert len(logged) == 1, [rec.getMessage() for rec in caplog.records]
    assert "/api/v1/boom/" in logged[0].getMessage()
    assert logged[0].exc_info and logged[0].exc_info[0] is KeyError


@pytest.mark.urls(__name__)
def test_the_test_client_still_sees_the_real_exception(world):
    """The error reaches Django's got_request_exception signal, as Django's own 500s do: the test
    client raises it, error reporters receive it."""
    api = APIClient()
    api.force_authenticate(world.cadre)
    with pytest.raises(KeyError):
        api.get("/api/v1/boom/")


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/api/v1/boom-plain/", "/api/v1/boom-after/"])
def test_an_error_outside_drf_under_api_is_a_json_500(world, settings, url):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.BrokenMiddleware"]
    client = APIClient(raise_request_exception=False)
    client.force_login(world.cadre)
    assert_error_shape(client.get(url), 500, "server_error")


@pytest.mark.urls(__name__)
def test_a_page_error_keeps_the_html_500(world, client):
    client.raise_request_exception = False
    client.force_login(world.cadre)
    r = client.get("/boom-page/")
    assert r.status_code == 500 and r["Content-Type"].startswith("text/html")
