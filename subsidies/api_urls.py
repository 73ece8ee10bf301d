from django.urls import path

from . import apis

urlpatterns = [
    path("subsidy-batches/", apis.BatchListApi.as_view(), name="api-subsidy-batch-list"),
    path("subsidy-batches/<int:pk>/", apis.BatchDetailApi.as_view(), name="api-subsidy-batch-detail"),
    path(
        "subsidy-batches/<int:pk>/transitions/",
        apis.BatchTransitionListApi.as_view(),
        name="api-subsidy-batch-transitions",
    ),
    path(
        "subsidy-batches/<int:pk>/transitions/<slug:name>/",
        apis.BatchTransitionApi.as_view(),
        name="api-subsidy-batch-transition",
    ),
    path("subsidy-batches/<int:pk>/lines/", apis.LineListApi.as_view(), name="api-subsidy-batch-lines"),
]
