from django.urls import path

from .apis import funds

urlpatterns = [
    path("risk-funds/", funds.FundListApi.as_view(), name="api-risk-fund-list"),
    path("risk-funds/<int:pk>/", funds.FundDetailApi.as_view(), name="api-risk-fund-detail"),
    path("risk-funds/<int:pk>/entries/", funds.FundEntryListApi.as_view(), name="api-risk-fund-entries"),
]
