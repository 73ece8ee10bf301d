from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("", views.ProfileListView.as_view(), name="profile_list"),
    path("profiles/new/", views.ProfileCreateView.as_view(), name="profile_create"),
    path("profiles/<int:pk>/", views.ProfileDetailView.as_view(), name="profile_detail"),
    path("rates/", views.RateListView.as_view(), name="rate_list"),
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
]
