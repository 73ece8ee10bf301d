from django.urls import path

from .views import archive, dossier
from .views import batch as batch_views
from .views import report as report_views

app_name = "archives"

urlpatterns = [
    # One household's file: the checklist, its documents and the upload form
    path("households/<int:pk>/", archive.household_archive, name="household_archive"),
    path("documents/<int:pk>/file/", archive.document_file, name="document_file"),
    path("households/<int:pk>/dossier.pdf", dossier.dossier_pdf, name="dossier_pdf"),
    # Batch printing of a village's or township's dossiers, and the completeness report
    path("batches/", batch_views.batch_list, name="batch_list"),
    path("batches/<int:pk>/", batch_views.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", batch_views.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/resume/", batch_views.batch_resume, name="batch_resume"),
    path("batches/<int:pk>/download/", batch_views.batch_download, name="batch_download"),
    path("report/", report_views.report, name="report"),
    path("report/<int:pk>/xlsx/", report_views.report_xlsx, name="report_xlsx"),
]
