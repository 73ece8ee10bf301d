from django.urls import path

from . import views
from .urls_changes import urlpatterns as changes_urlpatterns
from .urls_checks import urlpatterns as checks_urlpatterns
from .urls_loans import urlpatterns as loan_urlpatterns
from .urls_servicing import urlpatterns as servicing_urlpatterns

app_name = "loans"

urlpatterns = [
    *loan_urlpatterns,
    *servicing_urlpatterns,
    *checks_urlpatterns,
    *changes_urlpatterns,
    path("", views.application_list, name="application_list"),
    path("new/<int:household_pk>/", views.application_create, name="application_create"),
    path("eligibility/", views.eligibility_check, name="eligibility_check"),
    path("publicity/", views.publicity_board, name="publicity_board"),
    path("publicity/notice/", views.publicity_notice_print, name="publicity_notice_print"),
    path("acceptance/", views.acceptance_queue, name="acceptance_queue"),
    path("approval/", views.approval_queue, name="approval_queue"),
    path("disbursement/", views.disbursement_queue, name="disbursement_queue"),
    path("<int:pk>/", views.application_detail, name="application_detail"),
    path("<int:pk>/edit/", views.application_edit, name="application_edit"),
    path("<int:pk>/transition/<str:name>/", views.application_transition, name="application_transition"),
    path("<int:pk>/objection/", views.objection_create, name="objection_create"),
    path("<int:pk>/accept/", views.application_accept, name="application_accept"),
    path("<int:pk>/approve/", views.application_approve, name="application_approve"),
    path("<int:pk>/disburse/", views.application_disburse, name="application_disburse"),
    path("<int:pk>/photos/<int:photo_pk>/", views.investigation_photo, name="investigation_photo"),
]
