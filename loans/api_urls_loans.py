from django.urls import path

from .apis_loans import LoanImportApi

urlpatterns = [
    path("loan-imports/", LoanImportApi.as_view(), name="api-loan-import"),
]
