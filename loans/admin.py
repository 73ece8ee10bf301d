"""Loan applications and loans in Django admin, for administrators to look things up. Read-only:
the state moves only through the workflow's services, which check the rules and write the history
and the audit trail; admin never assigns it. Borrowers appear by name; ID numbers are not shown."""

from django.contrib import admin

from .models import (
    ApplicationHistory,
    InvestigationPhoto,
    Loan,
    LoanApplication,
    LoanStateChange,
    Objection,
    PublicityNotice,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryInline(ReadOnlyInline):
    model = ApplicationHistory
    fields = ("at", "transition", "from_state", "to_state", "by", "comment")


class StateChangeInline(ReadOnlyInline):
    model = LoanStateChange
    fields = ("at", "transition", "from_state", "to_state", "by", "reason")


class NoticeInline(ReadOnlyInline):
    model = PublicityNotice
    fields = ("level", "start_on", "end_on", "working_days", "status", "posted_by")


class ObjectionInline(ReadOnlyInline):
    model = Objection
    fields = ("raised_at", "objector", "text", "raised_by", "notice")


class PhotoInline(ReadOnlyInline):
    model = InvestigationPhoto
    fields = ("image", "caption", "uploaded_by", "uploaded_at")


@admin.register(LoanApplication)
class LoanApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "household",
        "borrower",
        "amount",
        "term_months",
        "purpose_category",
        "state",
        "branch",
        "submitted_on",
        "created_at",
    )
    list_filter = ("state", "purpose_category", "use_mode")
    search_fields = ("household__registration_no", "borrower__name")
    list_select_related = ("household", "borrower", "branch")
    date_hierarchy = "created_at"
    inlines = [NoticeInline, ObjectionInline, PhotoInline, HistoryInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Loan)
class LoanAdmin(ReadOnlyAdmin):
    list_display = (
        "contract_no",
        "receipt_no",
        "household",
        "borrower",
        "amount",
        "outstanding",
        "rate",
        "disbursed_on",
        "maturity_on",
        "state",
        "branch",
    )
    list_filter = ("state", "classification", "branch")
    search_fields = ("contract_no", "receipt_no", "household__registration_no", "borrower__name")
    list_select_related = ("household", "borrower", "branch")
    date_hierarchy = "disbursed_on"
    # The loan's history, from how it began (disburse or import) to its last step (lifecycle.py).
    inlines = [StateChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(PublicityNotice)
class PublicityNoticeAdmin(ReadOnlyAdmin):
    list_display = ("application", "level", "start_on", "end_on", "working_days", "status", "posted_by")
    list_filter = ("level", "status")
    search_fields = ("application__household__registration_no",)
    list_select_related = ("application__household", "posted_by")


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    list_display = ("application", "objector", "text", "raised_by", "raised_at")
    search_fields = ("application__household__registration_no", "text")
    list_select_related = ("application__household", "raised_by")


@admin.register(ApplicationHistory)
class ApplicationHistoryAdmin(ReadOnlyAdmin):
    list_display = ("application", "transition", "from_state", "to_state", "by", "at")
    list_filter = ("transition", "to_state")
    search_fields = ("application__household__registration_no", "comment")
    list_select_related = ("application__household", "by")


@admin.register(LoanStateChange)
class LoanStateChangeAdmin(ReadOnlyAdmin):
    list_display = ("loan", "transition", "from_state", "to_state", "by", "at")
    list_filter = ("transition", "to_state")
    search_fields = ("loan__contract_no", "loan__household__registration_no", "reason")
    list_select_related = ("loan", "by")


@admin.register(InvestigationPhoto)
class InvestigationPhotoAdmin(ReadOnlyAdmin):
    list_display = ("application", "caption", "uploaded_by", "uploaded_at")
    list_select_related = ("application__household", "uploaded_by")
