from django.urls import path

from . import views
from .urls_exports import urlpatterns as export_urlpatterns

app_name = "subsidies"

urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("new/", views.batch_create, name="batch_create"),
    path("<int:pk>/", views.batch_detail, name="batch_detail"),
    path("<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("<int:pk>/lines/", views.batch_lines, name="batch_lines"),
    path("<int:pk>/steps/<slug:name>/", views.batch_step, name="batch_step"),
    *export_urlpatterns,
]
