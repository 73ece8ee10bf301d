from django.urls import path

from . import views
from .urls_excel import urlpatterns as excel_urlpatterns

app_name = "households"

urlpatterns = [
    path("", views.household_list, name="list"),
    path("new/", views.household_create, name="create"),
    path("blacklist/", views.blacklist, name="blacklist"),
    path("<int:pk>/", views.household_detail, name="detail"),
    path("<int:pk>/edit/", views.household_edit, name="edit"),
    path("<int:pk>/rate/", views.household_rate, name="rate"),
    path("<int:pk>/blacklist/", views.blacklist_add, name="blacklist_add"),
    path("<int:pk>/blacklist/remove/", views.blacklist_remove, name="blacklist_remove"),
    *excel_urlpatterns,
]
