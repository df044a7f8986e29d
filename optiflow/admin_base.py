"""What every admin of both sites builds on: writes go through the services the API uses.

``ServiceAdmin`` routes the change form (create, change), delete and bulk delete to an
admin's service hooks, so each business rule lives in one place. A service's refusal
(``DomainError``) is shown the admin's own way with the API's message: under the form field
it names (``default_tax_id`` → ``default_tax``) or above the form, and as a message on a
delete or an action; nothing is written, because the whole request runs in one transaction.
An admin that does not implement a hook does not offer that write at all, so no model is ever
written by the admin's generic code.

Also here: the read-only admins of ledgers and issued documents, money and label formatting,
and a day-range filter for timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import action
from django.contrib.admin import actions as django_actions
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, router, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.forms.models import BaseInlineFormSet, construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import RangeDateFilter

from optiflow.errors import NON_FIELD, DomainError

#: Where the first pass of a refused change form leaves the refusal for the second.
REFUSAL_ATTRIBUTE = "_optiflow_service_refusal"
CONCURRENT_CHANGE = "The change conflicts with a concurrent change; retry it."


class ServiceRefused(Exception):
    """Raised out of the change form's transaction (rolling it back) to render it again."""

    def __init__(self, error: DomainError) -> None:
        self.error = error
        super().__init__(error.message)


@contextmanager
def service_errors(subject: object | None = None) -> Iterator[None]:
    """Turn what the database refuses into the ``DomainError`` the admin shows: services
    check their rules first, so a protected reference or a constraint that still fires is a
    concurrent change, never a reason for a 500 or a "permission" page. ``subject`` names
    the record in the message, for bulk operations."""
    try:
        yield
    except DomainError as error:
        if subject is None:
            raise
        raise DomainError(f"{subject}: {error.message}") from error
    except (ProtectedError, RestrictedError) as error:
        used_by = sorted({obj._meta.verbose_name_plural for obj in error.args[1]})
        prefix = f"{subject}: " if subject is not None else ""
        raise DomainError(
            f"{prefix}It is still used by {', '.join(used_by)}; deactivate it instead."
        ) from error
    except IntegrityError as error:
        raise DomainError(CONCURRENT_CHANGE) from error


def form_field_for(form: forms.BaseForm, key: str) -> str | None:
    """The form field an error key of the API names (``category_id`` → ``category``)."""
    for name in (key, key.removesuffix("_id")):
        if name in form.fields:
            return name
    return None


def show_refusal(form: forms.BaseForm, error: DomainError) -> None:
    for key, texts in error.errors.items():
        field = None if key == NON_FIELD else form_field_for(form, key)
        if field is None and key != NON_FIELD:
            texts = [f"{key.replace('_', ' ').capitalize()}: {text}" for text in texts]
        form.add_error(field, list(texts))


class ServiceModelForm(forms.ModelForm):
    """A model form that checks the input's shape only. Uniqueness and the models'
    constraints are the services' rules, checked there with the API's messages (Django's own
    check would answer ``Constraint "tax_single_default" is violated.`` where the service
    clears the previous default); the database constraints stay as the backstop."""

    #: Set on the form class of the second pass of a refused change (``ServiceAdmin``).
    service_refusal: DomainError | None = None

    def _post_clean(self) -> None:
        try:
            self.instance = construct_instance(
                self, self.instance, self._meta.fields, self._meta.exclude
            )
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(),
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as error:
            self._update_errors(error)
        if self.service_refusal is not None:
            show_refusal(self, self.service_refusal)


def inline_rows(formset: BaseInlineFormSet) -> list[dict[str, Any]]:
    """The rows an inline formset keeps, as the service's nested input (replace semantics):
    deleted rows and untouched empty extra rows left out, the parent link and ids dropped."""
    rows = []
    skip = {formset.fk.name, formset.model._meta.pk.name, "DELETE"}
    for form in formset.forms:
        if form in formset.deleted_forms or (form.instance.pk is None and not form.has_changed()):
            continue
        rows.append({k: v for k, v in form.cleaned_data.items() if k not in skip})
    return rows


class ServiceInline(TabularInline):
    """An inline whose rows are part of the parent's service input, under ``service_field``
    (the contact's ``addresses``, replaced as a whole as the API does)."""

    service_field: str
    extra = 0

    def get_formset(self, request: HttpRequest, obj: models.Model | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        formset.service_field = self.service_field
        return formset


class ServiceAdmin(ModelAdmin):
    """An admin whose writes are service calls. Implement the hooks the model allows:

    - ``service_create(request, data, form)`` → the new record;
    - ``service_update(request, obj, data, form)`` → the record; ``obj`` is read fresh from
      the database (the form has already copied its input onto its own instance) and
      ``data`` holds the changed fields only, as a ``PATCH`` would;
    - ``service_delete(request, obj)``, and ``service_delete_check(request, obj)`` raising the
      refusal ``service_delete`` would, for the confirmation page.

    ``data`` is keyed by model field names; an inline with a ``service_field`` adds its rows
    under that name (``addresses``), as the API's nested input.
    """

    form = ServiceModelForm
    delete_confirmation_template = "admin/optiflow/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/optiflow/delete_selected_confirmation.html"

    service_create: Callable[..., models.Model] | None = None
    service_update: Callable[..., models.Model] | None = None
    service_delete: Callable[..., None] | None = None
    service_delete_check: Callable[..., None] | None = None

    # --- what is offered ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.service_create is not None and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.service_update is not None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.service_delete is not None and super().has_delete_permission(request, obj)

    # --- create and change ---

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            # The refusal left the view's transaction, rolling everything back. A second pass
            # renders the same submission the admin's own way, the refusal as form errors.
            setattr(request, REFUSAL_ATTRIBUTE, refused.error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self,
        request: HttpRequest,
        obj: models.Model | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, REFUSAL_ATTRIBUTE, None)
        if refusal is None:
            return form
        return type(form.__name__, (form,), {"service_refusal": refusal})

    def save_model(self, request: HttpRequest, obj: models.Model, form, change: bool) -> None:
        """Nothing here: the service writes in ``save_related``, with the inlines' rows."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        data = {
            name: value
            for name, value in form.cleaned_data.items()
            if name in self.model_field_names() and (not change or name in form.changed_data)
        }
        for formset in formsets:
            name = getattr(formset, "service_field", None)
            if name and (not change or formset.has_changed()):
                data[name] = inline_rows(formset)
        try:
            with service_errors():
                if change:
                    stored = self.model._default_manager.get(pk=form.instance.pk)
                    saved = self.service_update(request, stored, data, form)
                else:
                    saved = self.service_create(request, data, form)
        except DomainError as error:
            raise ServiceRefused(error) from error
        # The admin goes on with the form's instance (history, redirect, messages), and reads
        # what formsets saved for its history entry: the service wrote their rows instead.
        form.instance.__dict__.update(saved.__dict__)
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def model_field_names(self) -> set[str]:
        return {f.name for f in self.model._meta.concrete_fields}

    # --- delete ---

    def delete_refusals(self, request: HttpRequest, objs: Iterable[models.Model]) -> list[str]:
        if self.service_delete_check is None:
            return []
        objs = list(objs)
        refusals = []
        for obj in objs:
            try:
                self.service_delete_check(request, obj)
            except DomainError as error:
                refusals.append(error.message if len(objs) == 1 else f"{obj}: {error.message}")
        return refusals

    def get_deleted_objects(self, objs, request: HttpRequest):
        """The service decides what may be deleted and what goes with it: its refusal is
        the page's reason (in the slot Django uses for protected objects, so the page offers
        no confirmation), and the related admins' permissions do not matter (a product's
        opening stock rows go with it though the ledger's admin is read-only)."""
        refusals = self.delete_refusals(request, objs)
        if refusals:
            return [], {}, set(), refusals
        deleted, counts, _permissions, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), []

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            # Refused after the confirmation page allowed it (a concurrent change): the
            # view's transaction, history entry included, was rolled back.
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        with service_errors():
            self.service_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Runs inside ``delete_selected``'s transaction: one refusal deletes nothing.
        for obj in queryset.order_by("pk"):
            with service_errors(subject=obj):
                self.service_delete(request, obj)

    # --- actions ---

    def run_action(
        self, request: HttpRequest, queryset: QuerySet, call: Callable[[Any], object], done: str
    ) -> None:
        """Apply a service to each selected record, all or nothing; ``done`` may use
        ``{count}``."""
        count = 0
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                for obj in queryset.order_by("pk"):
                    with service_errors(subject=obj):
                        call(obj)
                    count += 1
        except DomainError as error:
            self.message_user(request, f"{error.message} Nothing was changed.", messages.ERROR)
            return
        self.message_user(request, done.format(count=count), messages.SUCCESS)


@action(
    permissions=["delete"],
    description=gettext_lazy("Delete selected %(verbose_name_plural)s"),
)
def delete_selected(modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet):
    """Django's bulk delete in one transaction (it writes the history entries before it
    deletes), so a refusal of any one record leaves no trace and shows as a message."""
    try:
        with transaction.atomic(using=router.db_for_write(modeladmin.model)):
            return django_actions.delete_selected(modeladmin, request, queryset)
    except DomainError as error:
        modeladmin.message_user(request, f"{error.message} Nothing was deleted.", messages.ERROR)
        return None


class NoWrites:
    """Viewing only: no add, change or delete, whatever the user's model permissions."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(NoWrites, ModelAdmin):
    """Ledgers and issued documents: viewed here, written only by their services through
    the API (``inventory.services.stock_apply`` keeps stock equal to its movements), whose
    documentation the page links to."""

    change_form_before_template = "admin/optiflow/read_only_note.html"


class ReadOnlyInline(NoWrites, TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


class DayRangeFilter(RangeDateFilter):
    """A from/to date range on a timestamp, both days included (a plain date range on a
    timestamp would stop at midnight of the last day)."""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        bounds = {}
        for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
            value = self.used_parameters.get(self.parameter_name + suffix)
            if value:
                bounds[f"{self.field_path}__date__{lookup}"] = value
        try:
            return queryset.filter(**bounds)
        except (ValueError, ValidationError):
            return None


def tenant_currency() -> str:
    """The active tenant's currency: the one of prices and stock values."""
    return getattr(connection.tenant, "currency", "")


def money(amount: Decimal | None, currency: str) -> str:
    """``1,500.00 USD``; an unknown amount is a dash."""
    if amount is None:
        return "–"
    return f"{amount:,.2f} {currency}"


def quantity(value: Decimal) -> str:
    return f"{value:,.2f}"
