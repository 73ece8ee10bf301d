from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate, password_validation, update_session_auth_hash
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from knox import views as knox_views
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.exceptions import ApplicationError

from . import services
from .models import OrgUnit
from .scoping import visible_regions


class LockedOut(ApplicationError):
    """Too many failed logins for the account or from the address (django-axes)."""

    status_code = 429

    def __init__(self):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        super().__init__(
            _(
                "Too many failed logins: this account or this address is locked for %(minutes)d "
                "minutes. Try again later, or ask an administrator to unlock it."
            )
            % {"minutes": minutes},
            "locked_out",
            {"cooloff_minutes": minutes},
        )


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(help_text=gettext_lazy("The token stops working at this time."))


class TokenView(knox_views.LoginView):
    """`POST /api/v1/auth/token/` with `{username, password}` answers `{token, expiry}`. Send
    `Authorization: Token <token>`; the token is stored hashed and ends at `expiry`, at logout, or
    when the password changes. Five failed logins for an account or from an address lock it for
    the cool-off time, 30 minutes (429, `code: "locked_out"`, `extra.cooloff_minutes`); more than
    10 requests a minute from one address answer 429 `code: "throttled"`."""

    # Credentials only: no session, so no CSRF check and no login by a browser's cookie.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=CredentialsSerializer,
        responses={200: TokenSerializer},
        auth=[],
    )
    def post(self, request, format=None):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # django-axes (the first authentication backend) counts the failure and refuses a locked
        # account or address; it flags the request it was given, which is this DRF request.
        user = authenticate(request=request, **credentials.validated_data)
        if getattr(request, "axes_locked_out", False):
            raise LockedOut()
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": [_("The username or password is not correct.")]}
            )
        request.user = user
        return super().post(request, format=format)


class LogoutView(knox_views.LogoutView):
    """`POST /api/v1/auth/logout/`: the token of this request stops working."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class LogoutAllView(knox_views.LogoutAllView):
    """`POST /api/v1/auth/logoutall/`: every token of this user stops working."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    new_password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})

    def validate_old_password(self, value):
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError(_("The current password is not correct."))
        return value

    def validate_new_password(self, value):
        try:
            password_validation.validate_password(value, self.context["request"].user)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return value


class PasswordChangeView(APIView):
    """`POST /api/v1/auth/password/` with `{old_password, new_password}`: the new password must
    pass the password rules. Every API token of the user stops working (log in again for a new
    one); a browser session that sent this stays logged in."""

    throttle_scope = "auth"
    throttle_classes = [ScopedRateThrottle]

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={204: None},
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = request.user
        services.user_password_change(
            acting_user=user, user=user, password=serializer.validated_data["new_password"]
        )
        if SESSION_KEY in request.session:
            update_session_auth_hash(request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegionSerializer(serializers.ModelSerializer):
    level = serializers.CharField(source="kind", help_text=gettext_lazy("county, township or village"))

    class Meta:
        model = OrgUnit
        fields = ["id", "code", "name", "level", "parent"]


class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The administrative tree the user can see."""

    serializer_class = RegionSerializer

    def get_queryset(self):
        return visible_regions(self.request.user).order_by("code")
