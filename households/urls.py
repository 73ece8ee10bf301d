from django.urls import path

from . import views, views_blacklist
from .urls_excel import urlpatterns as excel_urlpatterns

app_name = "households"

urlpatterns = [
    path("", views.household_list, name="list"),
    path("new/", views.household_create, name="create"),
    path("blacklist/", views.blacklist, name="blacklist"),
    path("<int:pk>/", views.household_detail, name="detail"),
    path("<int:pk>/edit/", views.household_edit, name="edit"),
    path("<int:pk>/members/<int:member_pk>/id-number/", views.member_id_number, name="member_id_number"),
    path("<int:pk>/members/<int:member_pk>/correct/", views.member_correct, name="member_correct"),
    path("<int:pk>/rate/", views.household_rate, name="rate"),
    path("<int:pk>/blacklist/", views.blacklist_add, name="blacklist_add"),
    # Removal is asked for here and approved by a second person (views_blacklist).
    path("<int:pk>/blacklist/remove/", views_blacklist.removal_request_create, name="blacklist_remove"),
    path("blacklist/removals/", views_blacklist.removal_request_list, name="blacklist_removals"),
    path(
        "blacklist/removals/<int:pk>/",
        views_blacklist.removal_request_detail,
        name="blacklist_removal_detail",
    ),
    path(
        "blacklist/removals/<int:pk>/approve/",
        views_blacklist.removal_request_approve,
        name="blacklist_removal_approve",
    ),
    path(
        "blacklist/removals/<int:pk>/reject/",
        views_blacklist.removal_request_reject,
        name="blacklist_removal_reject",
    ),
    *excel_urlpatterns,
]
