from django.urls import path

from . import apis

urlpatterns = [
    path("households/", apis.HouseholdListApi.as_view(), name="api-household-list"),
    path("households/<int:pk>/", apis.HouseholdDetailApi.as_view(), name="api-household-detail"),
    path("households/<int:pk>/ratings/", apis.RatingListApi.as_view(), name="api-household-ratings"),
    path("blacklist/", apis.BlacklistListApi.as_view(), name="api-blacklist-list"),
    path("blacklist/<int:pk>/", apis.BlacklistDetailApi.as_view(), name="api-blacklist-detail"),
]
