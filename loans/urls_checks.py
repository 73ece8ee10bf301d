from django.urls import path

from . import views_checks

urlpatterns = [
    path("checks/", views_checks.checks_due, name="checks_due"),
    path("checks/<int:pk>/record/", views_checks.check_record, name="check_record"),
    path("checks/<int:pk>/photos/<int:photo_pk>/", views_checks.check_photo, name="check_photo"),
]
