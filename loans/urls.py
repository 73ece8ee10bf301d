from django.urls import path

from .views import applications, bank, changes, checks, loans, publicity, servicing

app_name = "loans"

urlpatterns = [
    # The loan book
    path("book/", loans.book_list, name="book_list"),
    path("book/<int:pk>/", loans.book_detail, name="book_detail"),
    path("book/export/", loans.book_export, name="book_export"),
    path("book/import/", loans.book_import, name="book_import"),
    path("book/import/confirm/", loans.book_import_commit, name="book_import_commit"),
    path("book/import/template/", loans.book_import_template, name="book_import_template"),
    # Settlements, repayments and overdue loans
    path("servicing/settlements/import/", servicing.settlement_import, name="settlement_import"),
    path(
        "servicing/settlements/import/confirm/",
        servicing.settlement_import_commit,
        name="settlement_import_commit",
    ),
    path(
        "servicing/settlements/import/template/",
        servicing.settlement_import_template,
        name="settlement_import_template",
    ),
    path("servicing/<int:pk>/settlements/new/", servicing.settlement_manual, name="settlement_manual"),
    path(
        "servicing/settlements/<int:pk>/confirm/",
        servicing.settlement_confirm,
        name="settlement_confirm",
    ),
    path("servicing/<int:pk>/repayments/new/", servicing.repayment_create, name="repayment_create"),
    path("servicing/overdue/", servicing.overdue_list, name="overdue_list"),
    path("servicing/overdue/export/", servicing.overdue_export, name="overdue_export"),
    # Post-loan checks
    path("checks/", checks.checks_due, name="checks_due"),
    path("checks/<int:pk>/record/", checks.check_record, name="check_record"),
    path("checks/<int:pk>/photos/<int:photo_pk>/", checks.check_photo, name="check_photo"),
    # Extensions, renewals, additional loans and borrower events
    path("changes/extensions/", changes.extension_queue, name="change_extension_queue"),
    path(
        "changes/extensions/<int:pk>/decide/",
        changes.extension_decide,
        name="change_extension_decide",
    ),
    path("changes/<int:pk>/extension/", changes.extension_request, name="change_extension_request"),
    path("changes/<int:pk>/renewal/", changes.renewal_start, name="change_renewal"),
    path("changes/<int:pk>/additional/", changes.additional_start, name="change_additional"),
    path(
        "changes/<int:pk>/malicious-default/",
        changes.malicious_default,
        name="change_malicious_default",
    ),
    path("changes/<int:pk>/event/", changes.borrower_event, name="change_event"),
    path("changes/<int:pk>/account/", changes.account, name="change_account"),
    path("changes/<int:pk>/insurance/", changes.insurance, name="change_insurance"),
    path(
        "changes/insurance/<int:policy_pk>/payout/",
        changes.insurance_payout,
        name="change_insurance_payout",
    ),
    # Applications
    path("", applications.application_list, name="application_list"),
    path("new/<int:household_pk>/", applications.application_create, name="application_create"),
    path("eligibility/", applications.eligibility_check, name="eligibility_check"),
    path("publicity/", publicity.publicity_board, name="publicity_board"),
    path("publicity/notice/", publicity.publicity_notice_print, name="publicity_notice_print"),
    path("acceptance/", bank.acceptance_queue, name="acceptance_queue"),
    path("approval/", bank.approval_queue, name="approval_queue"),
    path("disbursement/", bank.disbursement_queue, name="disbursement_queue"),
    path("<int:pk>/", applications.application_detail, name="application_detail"),
    path("<int:pk>/edit/", applications.application_edit, name="application_edit"),
    path(
        "<int:pk>/transition/<str:name>/", applications.application_transition, name="application_transition"
    ),
    path("<int:pk>/objection/", publicity.objection_create, name="objection_create"),
    path("<int:pk>/accept/", bank.application_accept, name="application_accept"),
    path("<int:pk>/approve/", bank.application_approve, name="application_approve"),
    path("<int:pk>/disburse/", bank.application_disburse, name="application_disburse"),
    path("<int:pk>/photos/<int:photo_pk>/", applications.investigation_photo, name="investigation_photo"),
]
