"""Tenancy and access.

Public schema: ``Tenant`` and ``Domain`` (and ``User`` rows for platform staff).
Tenant schema: ``User``, ``Workspace``, ``Membership``, ``ApiToken``.

Which model is created in which schema is decided by ``tenants.routers.SchemaRouter``. A tenant
schema holds no foreign key to a public table (SPEC §2): ``User`` exists in both schemas, and its
``current_workspace`` link therefore carries no database constraint (the public copy of the table
has no workspace table to point at).
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = r"[a-z][a-z0-9-]{0,46}[a-z0-9]"


class Tenant(TenantMixin):
    """An organisation: one PostgreSQL schema, named ``t_<slug>``."""

    slug = models.CharField(
        max_length=48,
        unique=True,
        validators=[RegexValidator(f"^{SLUG_PATTERN}$", "Lowercase letters, digits and hyphens.")],
    )
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are created by `tenants.services.tenant_provision` and dropped by
    # `tenant_delete`, never as a side effect of saving or deleting a row.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @staticmethod
    def schema_name_for(slug: str) -> str:
        return "t_" + slug.replace("-", "_")


class Domain(DomainMixin):
    """A host name that resolves to a tenant (``acme.localhost``)."""

    def __str__(self) -> str:
        return self.domain


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True, is_tenant_admin=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. Lives in each tenant schema; the public
    schema's copy holds platform staff only."""

    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    is_tenant_admin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin.")
    current_workspace = models.ForeignKey(
        "tenants.Workspace",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email


class Workspace(models.Model):
    """A branch or location: the unit that owns stock and documents."""

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50, blank=True, default="")
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True, default="")
    address = models.TextField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_workspaces")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="workspace_single_default",
            ),
            models.UniqueConstraint(
                Lower("code"), condition=~models.Q(code=""), name="workspace_code_unique_ci"
            ),
        ]

    def __str__(self) -> str:
        return self.name


#: Membership roles; what each one grants is decided in ``tenants.access``.
ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER = "owner", "admin", "member"


class Membership(models.Model):
    ROLE_CHOICES = [(ROLE_OWNER, "Owner"), (ROLE_ADMIN, "Admin"), (ROLE_MEMBER, "Member")]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=ROLE_CHOICES, default=ROLE_MEMBER)
    permissions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A Sanctum-style personal access token ``{id}|{secret}``; only SHA-256(secret) is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    abilities = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )
