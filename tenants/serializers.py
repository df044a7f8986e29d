"""Input and output shapes for tokens, users, workspaces and memberships."""

from __future__ import annotations

from rest_framework import serializers

from optiflow.api.serializers import ScopedRelatedField
from tenants.access import ALL_ABILITIES, PERMISSIONS
from tenants.models import (
    ROLE_ADMIN,
    ROLE_MEMBER,
    ROLE_OWNER,
    ApiToken,
    Membership,
    User,
    Workspace,
)

ABILITY_CHOICES = [ALL_ABILITIES, *PERMISSIONS]


class WorkspaceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


# --- tokens ---------------------------------------------------------------------------------


def permission_list(choices=PERMISSIONS, **kwargs) -> serializers.ListField:
    """A list of permission strings, typed as an array of the permission enum."""
    return serializers.ListField(child=serializers.ChoiceField(choices=choices), **kwargs)


class TokenSerializer(serializers.ModelSerializer):
    abilities = permission_list(
        ABILITY_CHOICES, read_only=True, help_text='Permission strings; `["*"]` is all of them.'
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "abilities", "last_used_at", "expires_at", "created_at"]
        read_only_fields = fields


class NewTokenSerializer(TokenSerializer):
    token = serializers.SerializerMethodField(
        help_text="The plaintext `{id}|{secret}`: shown only in this response."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields

    def get_token(self, obj: ApiToken) -> str:
        return self.context["plaintext"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    abilities = permission_list(
        ABILITY_CHOICES,
        default=lambda: [ALL_ABILITIES],
        help_text='Permission strings; default `["*"]` (everything the user holds).',
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class LoginSerializer(TokenCreateSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False)


# --- users ----------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "name", "email", "is_tenant_admin", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    is_tenant_admin = serializers.BooleanField(default=False)


class UserUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(required=False)
    password = serializers.CharField(write_only=True, trim_whitespace=False, required=False)
    is_tenant_admin = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class MembershipSummarySerializer(serializers.Serializer):
    workspace = WorkspaceRefSerializer(read_only=True)
    role = serializers.CharField(read_only=True)
    permissions = permission_list(
        read_only=True, help_text="What the membership grants, whatever the token allows."
    )


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    is_tenant_admin = serializers.BooleanField()
    current_workspace = WorkspaceRefSerializer(allow_null=True)
    memberships = MembershipSummarySerializer(many=True)
    permissions = permission_list(
        help_text="Effective in the current workspace: the membership's, within the token's "
        "abilities."
    )


# --- workspaces -----------------------------------------------------------------------------

WORKSPACE_FIELDS = [
    "id",
    "name",
    "code",
    "slug",
    "description",
    "address",
    "phone",
    "is_active",
    "is_default",
    "owner_id",
    "created_at",
    "updated_at",
]


class WorkspaceSerializer(serializers.ModelSerializer):
    owner_id = serializers.IntegerField(read_only=True)
    is_owner = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [*WORKSPACE_FIELDS, "is_owner"]
        read_only_fields = fields

    def get_is_owner(self, obj: Workspace) -> bool:
        return obj.owner_id == self.context["request"].user.pk


class WorkspaceWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["name", "code", "description", "address", "phone", "is_active"]
        extra_kwargs = {"code": {"validators": []}}


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)
    user_id = serializers.IntegerField(read_only=True)
    workspace_id = serializers.IntegerField(read_only=True)
    permissions = permission_list(read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "workspace_id", "user", "role", "permissions", "created_at"]
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer):
    user_id = ScopedRelatedField(source="user", queryset=User.objects.all())
    role = serializers.ChoiceField(choices=[ROLE_ADMIN, ROLE_MEMBER])
    permissions = permission_list(required=False)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER], required=False)
    permissions = permission_list(required=False)
