from django.urls import path

from . import views_servicing

urlpatterns = [
    path("servicing/settlements/import/", views_servicing.settlement_import, name="settlement_import"),
    path(
        "servicing/settlements/import/confirm/",
        views_servicing.settlement_import_commit,
        name="settlement_import_commit",
    ),
    path(
        "servicing/settlements/import/template/",
        views_servicing.settlement_import_template,
        name="settlement_import_template",
    ),
    path("servicing/<int:pk>/settlements/new/", views_servicing.settlement_manual, name="settlement_manual"),
    path(
        "servicing/settlements/<int:pk>/confirm/",
        views_servicing.settlement_confirm,
        name="settlement_confirm",
    ),
    path("servicing/<int:pk>/repayments/new/", views_servicing.repayment_create, name="repayment_create"),
    path("servicing/overdue/", views_servicing.overdue_list, name="overdue_list"),
]
