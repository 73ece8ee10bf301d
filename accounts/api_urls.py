from django.urls import path
from rest_framework.routers import SimpleRouter

from . import apis

router = SimpleRouter()
router.register("regions", apis.RegionViewSet, basename="region")

urlpatterns = [
    path("auth/token/", apis.TokenView.as_view(), name="api-token"),
    path("auth/logout/", apis.LogoutView.as_view(), name="api-logout"),
    path("auth/logoutall/", apis.LogoutAllView.as_view(), name="api-logoutall"),
    path("auth/password/", apis.PasswordChangeView.as_view(), name="api-password"),
    *router.urls,
]
