from django.urls import path

from .apis import archive

urlpatterns = [
    path("households/<int:pk>/archive/", archive.HouseholdArchiveApi.as_view(), name="api-household-archive"),
]
