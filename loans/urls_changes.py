from django.urls import path

from . import views_changes

urlpatterns = [
    path("changes/extensions/", views_changes.extension_queue, name="change_extension_queue"),
    path(
        "changes/extensions/<int:pk>/decide/",
        views_changes.extension_decide,
        name="change_extension_decide",
    ),
    path("changes/<int:pk>/extension/", views_changes.extension_request, name="change_extension_request"),
    path("changes/<int:pk>/renewal/", views_changes.renewal_start, name="change_renewal"),
    path("changes/<int:pk>/additional/", views_changes.additional_start, name="change_additional"),
    path(
        "changes/<int:pk>/malicious-default/",
        views_changes.malicious_default,
        name="change_malicious_default",
    ),
    path("changes/<int:pk>/event/", views_changes.borrower_event, name="change_event"),
    path("changes/<int:pk>/account/", views_changes.account, name="change_account"),
    path("changes/<int:pk>/insurance/", views_changes.insurance, name="change_insurance"),
    path(
        "changes/insurance/<int:policy_pk>/payout/",
        views_changes.insurance_payout,
        name="change_insurance_payout",
    ),
]
