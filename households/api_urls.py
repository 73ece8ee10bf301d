from django.urls import path

from . import apis, apis_blacklist

urlpatterns = [
    path("households/", apis.HouseholdListApi.as_view(), name="api-household-list"),
    path("households/<int:pk>/", apis.HouseholdDetailApi.as_view(), name="api-household-detail"),
    path(
        "households/<int:pk>/members/<int:member_pk>/identity-correction/",
        apis.MemberIdentityCorrectionApi.as_view(),
        name="api-member-identity-correction",
    ),
    path("households/<int:pk>/ratings/", apis.RatingListApi.as_view(), name="api-household-ratings"),
    path("blacklist/", apis.BlacklistListApi.as_view(), name="api-blacklist-list"),
    path("blacklist/<int:pk>/", apis.BlacklistDetailApi.as_view(), name="api-blacklist-detail"),
    path(
        "blacklist/removal-requests/",
        apis_blacklist.BlacklistRemovalRequestListApi.as_view(),
        name="api-blacklist-removal-list",
    ),
    path(
        "blacklist/removal-requests/<int:pk>/",
        apis_blacklist.BlacklistRemovalRequestDetailApi.as_view(),
        name="api-blacklist-removal-detail",
    ),
    path(
        "blacklist/removal-requests/<int:pk>/approve/",
        apis_blacklist.BlacklistRemovalApproveApi.as_view(),
        name="api-blacklist-removal-approve",
    ),
    path(
        "blacklist/removal-requests/<int:pk>/reject/",
        apis_blacklist.BlacklistRemovalRejectApi.as_view(),
        name="api-blacklist-removal-reject",
    ),
]
