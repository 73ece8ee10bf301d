from django.urls import path

from . import apis
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
]
