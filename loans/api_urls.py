from django.urls import path

from . import apis
from .api_urls_changes import urlpatterns as changes_api_urlpatterns
from .api_urls_checks import urlpatterns as checks_api_urlpatterns
from .api_urls_loans import urlpatterns as loan_api_urlpatterns
from .api_urls_servicing import urlpatterns as servicing_api_urlpatterns
from .apis_eligibility import EligibilityView

urlpatterns = [
    path("eligibility/", EligibilityView.as_view(), name="api-eligibility"),
    path("applications/", apis.ApplicationListApi.as_view(), name="api-application-list"),
    path("applications/<int:pk>/", apis.ApplicationDetailApi.as_view(), name="api-application-detail"),
    path(
        "applications/<int:pk>/transitions/",
        apis.TransitionListApi.as_view(),
        name="api-application-transitions",
    ),
    path(
        "applications/<int:pk>/transitions/<slug:name>/",
        apis.TransitionApi.as_view(),
        name="api-application-transition",
    ),
    path(
        "applications/<int:pk>/objections/",
        apis.ObjectionListApi.as_view(),
        name="api-application-objections",
    ),
    path("applications/<int:pk>/photos/", apis.PhotoListApi.as_view(), name="api-application-photos"),
    path("loans/", apis.LoanListApi.as_view(), name="api-loan-list"),
    path("loans/<int:pk>/", apis.LoanDetailApi.as_view(), name="api-loan-detail"),
    *loan_api_urlpatterns,
    *servicing_api_urlpatterns,
    *checks_api_urlpatterns,
    *changes_api_urlpatterns,
]
