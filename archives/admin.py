"""Archive documents in Django admin, for administrators to look things up: read-only (uploads go
through archives.services.documents, which checks the content and audits), scoped to the
households the administrator sees. The file is not linked here: it is served only by the scoped
view archives:document_file."""

from django.contrib import admin

from accounts.scoping import village_q

from .models import ArchiveDocument


@admin.register(ArchiveDocument)
class ArchiveDocumentAdmin(admin.ModelAdmin):
    list_display = ("household", "item", "loan", "original_name", "content_type", "pages", "uploaded_at")
    list_filter = ("item", "content_type")
    search_fields = ("household__registration_no", "original_name")
    list_select_related = ("household", "loan")
    exclude = ("file",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(village_q(request.user, "household__village"))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "file"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
