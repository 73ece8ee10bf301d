from django.urls import path

from .apis import claims, funds, recoveries

urlpatterns = [
    path("risk-funds/", funds.FundListApi.as_view(), name="api-risk-fund-list"),
    path("risk-funds/<int:pk>/", funds.FundDetailApi.as_view(), name="api-risk-fund-detail"),
    path("risk-funds/<int:pk>/entries/", funds.FundEntryListApi.as_view(), name="api-risk-fund-entries"),
    path("compensation-claims/", claims.ClaimListApi.as_view(), name="api-claim-list"),
    path("compensation-claims/<int:pk>/", claims.ClaimDetailApi.as_view(), name="api-claim-detail"),
    path(
        "compensation-claims/<int:pk>/transitions/",
        claims.ClaimTransitionListApi.as_view(),
        name="api-claim-transitions",
    ),
    path(
        "compensation-claims/<int:pk>/transitions/<str:name>/",
        claims.ClaimTransitionApi.as_view(),
        name="api-claim-transition",
    ),
    path("recoveries/", recoveries.RecoveryListApi.as_view(), name="api-recovery-list"),
    path("recoveries/<int:pk>/return/", recoveries.RecoveryReturnApi.as_view(), name="api-recovery-return"),
]
