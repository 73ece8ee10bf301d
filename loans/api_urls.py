from django.urls import path

from .apis import applications, changes, checks, eligibility, imports, loans, servicing

urlpatterns = [
    path("eligibility/", eligibility.EligibilityView.as_view(), name="api-eligibility"),
    path("applications/", applications.ApplicationListApi.as_view(), name="api-application-list"),
    path(
        "applications/<int:pk>/", applications.ApplicationDetailApi.as_view(), name="api-application-detail"
    ),
    path(
        "applications/<int:pk>/transitions/",
        applications.TransitionListApi.as_view(),
        name="api-application-transitions",
    ),
    path(
        "applications/<int:pk>/transitions/<slug:name>/",
        applications.TransitionApi.as_view(),
        name="api-application-transition",
    ),
    path(
        "applications/<int:pk>/objections/",
        applications.ObjectionListApi.as_view(),
        name="api-application-objections",
    ),
    path("applications/<int:pk>/photos/", applications.PhotoListApi.as_view(), name="api-application-photos"),
    path("loans/", loans.LoanListApi.as_view(), name="api-loan-list"),
    path("loans/<int:pk>/", loans.LoanDetailApi.as_view(), name="api-loan-detail"),
    path("loan-imports/", imports.LoanImportApi.as_view(), name="api-loan-import"),
    path("settlement-imports/", servicing.SettlementImportApi.as_view(), name="api-settlement-imports"),
    path(
        "settlements/<int:pk>/confirm/",
        servicing.SettlementConfirmApi.as_view(),
        name="api-settlement-confirm",
    ),
    path("loans/overdue/", servicing.OverdueListApi.as_view(), name="api-loan-overdue"),
    path("loans/<int:pk>/repayments/", servicing.RepaymentListApi.as_view(), name="api-loan-repayments"),
    path("checks/", checks.CheckListApi.as_view(), name="api-check-list"),
    path("checks/<int:pk>/record/", checks.CheckRecordApi.as_view(), name="api-check-record"),
    path("loans/<int:pk>/extensions/", changes.LoanExtensionListApi.as_view(), name="api-loan-extensions"),
    path("extensions/<int:pk>/decide/", changes.ExtensionDecideApi.as_view(), name="api-extension-decide"),
    path("loans/<int:pk>/renewals/", changes.LoanRenewalApi.as_view(), name="api-loan-renewals"),
]
