from django.urls import path
from rest_framework.routers import SimpleRouter

from . import apis

router = SimpleRouter()
router.register("policy-profiles", apis.PolicyProfileViewSet, basename="policy-profile")
router.register("rates", apis.RateViewSet, basename="rate")

urlpatterns = [
    path("calendar/working-days/", apis.WorkingDaysApi.as_view(), name="calendar-working-days"),
    path("calendar-imports/", apis.CalendarImportApi.as_view(), name="calendar-imports"),
    *router.urls,
]
