from django.urls import path
from rest_framework.routers import SimpleRouter

from . import apis

router = SimpleRouter()
router.register("regions", apis.RegionViewSet, basename="region")

urlpatterns = [path("auth/token/", apis.TokenView.as_view(), name="api-token"), *router.urls]
