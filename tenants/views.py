"""Endpoints for authentication, tokens, the caller, workspaces, members and users (SPEC §3–§4)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from optiflow.api.conditional import etag, wants_precondition
from optiflow.api.permissions import (
    AUTHENTICATED,
    HeldInWorkspace,
    IsWorkspaceOwner,
    MayChangeAccount,
    MayMintToken,
    MayRevokeToken,
    permission_table,
)
from optiflow.api.serializers import validated_data
from optiflow.api.views import (
    ApiView,
    ApiViewSet,
    CreateMixin,
    DestroyMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
)
from tenants import selectors, services
from tenants.models import ApiToken, Membership, User, Workspace
from tenants.serializers import (
    LoginSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    NewTokenSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
    WorkspaceSerializer,
    WorkspaceWriteSerializer,
)


def new_token_response(token: ApiToken, plaintext: str) -> Response:
    data = NewTokenSerializer(token, context={"plaintext": plaintext}).data
    return Response({"data": data}, status=status.HTTP_201_CREATED)


class AuthTokenView(ApiView):
    """Exchange an email and password for a new API token."""

    public = True
    error_statuses = ("401",)  # wrong email or password

    @extend_schema(request=LoginSerializer, responses={201: NewTokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = dict(validated_data(LoginSerializer(data=request.data)))
        user = authenticate(
            request._request, email=data.pop("email").lower(), password=data.pop("password")
        )
        if user is None:
            raise exceptions.AuthenticationFailed()
        return new_token_response(*services.token_create(user=user, **data))


class MeView(ApiView):
    """The caller: `memberships[].permissions` are what each membership grants; the top-level
    `permissions`, those in the current workspace within the token's abilities (SPEC §3)."""

    required_permissions = permission_table(get=AUTHENTICATED)

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        access = request.access
        user = access.user

        workspace = access.workspace
        data = {
            "id": user.pk,
            "name": user.name,
            "email": user.email,
            "is_tenant_admin": user.is_tenant_admin,
            "current_workspace": workspace,
            "memberships": [
                {
                    "workspace": m.workspace,
                    "role": m.role,
                    "permissions": sorted(access.granted_by(m)),
                }
                for m in access.memberships
            ],
            "permissions": sorted(access.permissions),
        }
        return self.envelope(MeSerializer(data).data)


class TokenViewSet(ListMixin, CreateMixin, DestroyMixin, ApiViewSet):
    """The caller's own API tokens; secrets are never listed.

    A token never creates more power than it has: a new token's `abilities` (default `["*"]`)
    must be within the calling token's, and `["*"]` only comes from a `["*"]` token (`403`
    otherwise). A token may revoke itself; only a `["*"]` token may revoke the user's other
    tokens."""

    serializer_class = TokenSerializer
    input_serializers = {"create": TokenCreateSerializer}
    required_permissions = permission_table(
        list=AUTHENTICATED, create=AUTHENTICATED, destroy=AUTHENTICATED
    )
    record_checks = {"create": (MayMintToken(),), "destroy": (MayRevokeToken(),)}
    sort_fields = ("id", "created_at", "name")

    def base_queryset(self) -> QuerySet[ApiToken]:
        return selectors.token_list_for_user(user=self.request.user)

    @extend_schema(responses={201: NewTokenSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated_input()
        # Door 2 asked about the token as it would be minted.
        self.check_object_permissions(request, ApiToken(abilities=data["abilities"]))
        token, plaintext = services.token_create(user=request.user, **data)
        return new_token_response(token, plaintext)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.token_revoke(token=instance)


class UserViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, ApiViewSet):
    """Users of the tenant (`users:manage`). Tenant admins hold every permission everywhere,
    so only a tenant admin may grant or withdraw that flag or change a tenant admin's account
    (`403` otherwise): `users:manage` in one workspace is not a way to become one."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    input_serializers = {
        "create": UserCreateSerializer,
        "update": UserUpdateSerializer,
        "partial_update": UserUpdateSerializer,
    }
    required_permissions = permission_table(
        read="users:manage", create="users:manage", update="users:manage"
    )
    record_checks = dict.fromkeys(["create", "update", "partial_update"], (MayChangeAccount(),))
    smart_fields = ("name", "email")
    sort_fields = ("id", "name", "email", "created_at")
    default_sort = "name"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, data: dict[str, Any]) -> User:
        # Door 2 asked about the account as it would be created.
        self.check_object_permissions(self.request, User(is_tenant_admin=data["is_tenant_admin"]))
        return services.user_create(**data)

    def perform_update(self, instance: User, data: dict[str, Any]) -> User:
        # get_object() asked about the stored account; now about the account as it would be.
        promoted = data.get("is_tenant_admin", instance.is_tenant_admin)
        self.check_object_permissions(self.request, User(is_tenant_admin=promoted))
        return services.user_update(user=instance, data=dict(data), actor=self.request.user)


class WorkspaceViewSet(RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Workspaces the caller belongs to (all of them for a tenant admin).

    Changing a workspace or its members needs `workspaces:manage` in *that* workspace;
    deleting it is for its owner only (with a token that carries `workspaces:manage`).
    """

    queryset = Workspace.objects.all()
    serializer_class = WorkspaceSerializer
    pagination_class = None  # a user belongs to a handful of workspaces (SPEC §4)
    input_serializers = {
        "create": WorkspaceWriteSerializer,
        "update": WorkspaceWriteSerializer,
        "partial_update": WorkspaceWriteSerializer,
        "member_add": MemberCreateSerializer,
        "member": MemberUpdateSerializer,
    }
    # Administration is decided on the record (door 2): the permission must be held in the
    # workspace being changed, which need not be the request's.
    required_permissions = permission_table(
        read=AUTHENTICATED,
        create="workspaces:manage",
        update=AUTHENTICATED,
        destroy=AUTHENTICATED,
        switch=AUTHENTICATED,
        members=AUTHENTICATED,
        member_add=AUTHENTICATED,
        member=AUTHENTICATED,
    )
    record_checks = {
        **dict.fromkeys(
            ["update", "partial_update", "member_add", "member"],
            (HeldInWorkspace("workspaces:manage"),),
        ),
        "destroy": (IsWorkspaceOwner(), HeldInWorkspace("workspaces:manage")),
    }

    # `If-Match` on `/members/{user_id}` is the member's, not the workspace's.
    own_precondition_actions = frozenset({"member"})

    def base_queryset(self) -> QuerySet[Workspace]:
        return self.queryset.filter(pk__in=self.request.access.own_workspace_ids())

    def list(self, request: Request) -> Response:
        """Not paginated: a user belongs to a handful of workspaces."""
        workspaces = self.filter_queryset(self.get_queryset())
        return Response({"data": self.get_serializer(workspaces, many=True).data})

    def perform_create(self, data: dict[str, Any]) -> Workspace:
        return services.workspace_create(owner=self.request.user, **data)

    def perform_update(self, instance: Workspace, data: dict[str, Any]) -> Workspace:
        return services.workspace_update(workspace=instance, data=dict(data))

    def perform_destroy(self, instance: Workspace) -> None:
        services.workspace_delete(workspace=instance)

    @extend_schema(request=None, responses=WorkspaceSerializer)
    @action(detail=True, methods=["post"])
    def switch(self, request: Request, pk: str) -> Response:
        workspace = self.get_object()
        services.workspace_switch(user=request.user, workspace=workspace)
        return self.respond(workspace)

    @extend_schema(request=None, responses=MemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request: Request, pk: str) -> Response:
        members = selectors.workspace_members(workspace=self.get_object())
        return Response({"data": MemberSerializer(members, many=True).data})

    @extend_schema(responses={201: MemberSerializer})
    @members.mapping.post
    def member_add(self, request: Request, pk: str) -> Response:
        workspace = self.get_object()
        membership = services.membership_add(workspace=workspace, **self.validated_input())
        return Response({"data": MemberSerializer(membership).data}, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["PATCH"], responses=MemberSerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<user_id>[0-9]+)")
    def member(self, request: Request, pk: str, user_id: str) -> Response:
        workspace = self.get_object()
        memberships = Membership.objects.select_related("user", "workspace")
        if wants_precondition(request):  # in `call_handler`'s transaction
            memberships = memberships.select_for_update(of=("self",))
        membership = memberships.filter(workspace=workspace, user_id=int(user_id)).first()
        if membership is None:
            raise exceptions.NotFound("Member not found.")
        self.check_if_match(etag(MemberSerializer(membership).data))
        if request.method == "DELETE":
            services.membership_remove(membership=membership)
            return Response(status=status.HTTP_204_NO_CONTENT)
        membership = services.membership_update(
            membership=membership, data=dict(self.validated_input())
        )
        return Response({"data": MemberSerializer(membership).data})
