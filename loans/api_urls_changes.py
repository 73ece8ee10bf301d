from django.urls import path

from . import apis_changes

urlpatterns = [
    path(
        "loans/<int:pk>/extensions/", apis_changes.LoanExtensionListApi.as_view(), name="api-loan-extensions"
    ),
    path(
        "extensions/<int:pk>/decide/", apis_changes.ExtensionDecideApi.as_view(), name="api-extension-decide"
    ),
    path("loans/<int:pk>/renewals/", apis_changes.LoanRenewalApi.as_view(), name="api-loan-renewals"),
]
