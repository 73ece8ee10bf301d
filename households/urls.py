from .urls_excel import urlpatterns as excel_urlpatterns

app_name = "households"

urlpatterns = [
    *excel_urlpatterns,
]
