"""The export downloads of a batch; included by subsidies/urls.py (app_name "subsidies")."""

from django.urls import path

from . import views_exports

urlpatterns = [
    path("<int:pk>/export/detail.xlsx", views_exports.export_xlsx, name="export-xlsx"),
    path("<int:pk>/export/summary.pdf", views_exports.export_summary_pdf, name="export-summary-pdf"),
    path("<int:pk>/export/public.pdf", views_exports.export_public_pdf, name="export-public-pdf"),
    path("<int:pk>/export/payment.csv", views_exports.export_payment_csv, name="export-payment-csv"),
]
