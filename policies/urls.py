from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("", views.ProfileListView.as_view(), name="profile_list"),
    path("profiles/new/", views.ProfileCreateView.as_view(), name="profile_create"),
    path("profiles/<int:pk>/", views.ProfileDetailView.as_view(), name="profile_detail"),
    path("rates/", views.RateListView.as_view(), name="rate_list"),
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
    path("calendar/import/", views.CalendarImportView.as_view(), name="calendar_import"),
    path(
        "calendar/import/confirm/", views.CalendarImportConfirmView.as_view(), name="calendar_import_confirm"
    ),
    path(
        "calendar/import/template.csv",
        views.CalendarImportTemplateView.as_view(),
        name="calendar_import_template",
    ),
]
