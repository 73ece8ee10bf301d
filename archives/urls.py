from django.urls import path

from .views import archive

app_name = "archives"

urlpatterns = [
    # One household's file: the checklist, its documents and the upload form
    path("households/<int:pk>/", archive.household_archive, name="household_archive"),
    path("documents/<int:pk>/file/", archive.document_file, name="document_file"),
]
