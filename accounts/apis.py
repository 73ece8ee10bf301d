from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken

from .models import OrgUnit
from .scoping import visible_regions


class TokenView(ObtainAuthToken):
    """`POST /api/v1/auth/token/` with `{username, password}` answers `{token}`."""

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            }
        },
        responses={200: {"type": "object", "properties": {"token": {"type": "string"}}}},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class RegionSerializer(serializers.ModelSerializer):
    level = serializers.CharField(source="kind", help_text=_("county, township or village"))

    class Meta:
        model = OrgUnit
        fields = ["id", "code", "name", "level", "parent"]


class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The administrative tree the user can see."""

    serializer_class = RegionSerializer

    def get_queryset(self):
        return visible_regions(self.request.user).order_by("code")
