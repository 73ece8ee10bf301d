app_name = "loans"

urlpatterns = []
