from django.urls import path

from . import apis_servicing

urlpatterns = [
    path("settlement-imports/", apis_servicing.SettlementImportApi.as_view(), name="api-settlement-imports"),
    path(
        "settlements/<int:pk>/confirm/",
        apis_servicing.SettlementConfirmApi.as_view(),
        name="api-settlement-confirm",
    ),
    path("loans/overdue/", apis_servicing.OverdueListApi.as_view(), name="api-loan-overdue"),
    path("loans/<int:pk>/repayments/", apis_servicing.RepaymentListApi.as_view(), name="api-loan-repayments"),
]
