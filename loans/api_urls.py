from django.urls import path

from .apis_eligibility import EligibilityView

urlpatterns = [
    path("eligibility/", EligibilityView.as_view(), name="api-eligibility"),
]
