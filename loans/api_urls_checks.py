from django.urls import path

from . import apis_checks

urlpatterns = [
    path("checks/", apis_checks.CheckListApi.as_view(), name="api-check-list"),
    path("checks/<int:pk>/record/", apis_checks.CheckRecordApi.as_view(), name="api-check-record"),
]
