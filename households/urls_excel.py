"""Excel import and export, spliced into the "households" namespace by households/urls.py."""

from django.urls import path

from . import views_excel

urlpatterns = [
    path("import/", views_excel.ImportView.as_view(), name="import"),
    path("import/confirm/", views_excel.ImportCommitView.as_view(), name="import_commit"),
    path("import/template/", views_excel.ImportTemplateView.as_view(), name="import_template"),
    path("export/", views_excel.ExportView.as_view(), name="export"),
    path("export/full-id-numbers/", views_excel.FullIdExportView.as_view(), name="export_full"),
]
