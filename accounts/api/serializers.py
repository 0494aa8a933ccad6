from rest_framework import serializers

from accounts.models import ApiToken

TOKEN_MAX_LIFETIME_SECONDS = 366 * 86400


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="api")
    expires_in_seconds = serializers.IntegerField(
        min_value=60,
        max_value=TOKEN_MAX_LIFETIME_SECONDS,
        required=False,
        allow_null=True,
        default=None,
        help_text="Lifetime of the token; omitted or null: it never expires.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as its owner sees it listed: never the token itself."""

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at"]
        read_only_fields = fields
