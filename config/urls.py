from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from core.api import api_not_found

from .views import HomeView
from .views_jobs import daily_jobs

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("policies.api_urls")),
    path("", include("households.api_urls")),
    path("", include("loans.api_urls")),
    path("", include("subsidies.api_urls")),
    path("", include("riskfund.api_urls")),
    path("", include("archives.api_urls")),
]

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("jobs/", daily_jobs, name="daily_jobs"),
    path("accounts/", include("accounts.urls")),
    path("policies/", include("policies.urls")),
    path("households/", include("households.urls")),
    path("loans/", include("loans.urls")),
    path("subsidies/", include("subsidies.urls")),
    path("riskfund/", include("riskfund.urls")),
    path("archives/", include("archives.urls")),
    path("audit/", include("core.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script=): no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Redoc injects its styles and starts its search worker from a blob at run time: this page alone
    # allows inline styles and blob workers (scripts stay our own files only).
    path(
        "api/redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="schema")
        ),
        name="api-redoc",
    ),
    # Last: any other path under /api/ answers API.md's JSON 404, not the HTML page (issue 10).
    re_path(r"^api/", api_not_found),
]

# An error outside a view (a middleware, rendering) answers the JSON error shape under /api/.
handler500 = "core.api.server_error"
