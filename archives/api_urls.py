from django.urls import path

from .apis import archive, dossier

urlpatterns = [
    path("households/<int:pk>/archive/", archive.HouseholdArchiveApi.as_view(), name="api-household-archive"),
    path(
        "households/<int:pk>/archive/dossier.pdf",
        dossier.HouseholdDossierApi.as_view(),
        name="api-household-dossier",
    ),
]
