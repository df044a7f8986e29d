"""Serializer building blocks shared by every app."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import F, Model, QuerySet
from rest_framework import serializers

from optiflow.db.records import AnyOf, CompiledQuery
from optiflow.money import AMOUNT
from tenants.access import Access
from tenants.models import Workspace


class IncludableSerializer(serializers.Serializer):
    """Output serializer whose ``Meta.include_fields`` render only when requested.

    The requested paths come from the view (``context["include"]``, a set of dotted paths); a
    nested serializer knows its own path from its position (``items`` → ``items.product``), so
    ``include=items.product.category`` reaches three levels down. Without an ``include`` in the
    context (schema generation) every field is present, and the schema marks them optional.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        optional = getattr(getattr(self, "Meta", None), "include_fields", ())
        for name in optional:
            fields[name].required = False
        requested = self.context.get("include")
        if requested is None:
            return fields
        prefix = self.include_prefix()
        for name in optional:
            if prefix + name not in requested:
                fields.pop(name)
        return fields

    def include_prefix(self) -> str:
        names: list[str] = []
        node = self
        while node.parent is not None:
            if node.field_name:
                names.append(node.field_name)
            node = node.parent
        return "".join(f"{name}." for name in reversed(names))


class IncludableModelSerializer(IncludableSerializer, serializers.ModelSerializer):
    pass


class MoneyField(serializers.DecimalField):
    """A decimal string with two places (``"1500.00"``); never a float."""

    def __init__(self, **kwargs) -> None:
        for name, value in AMOUNT.items():
            kwargs.setdefault(name, value)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """Door 3 of ``tenants.access``: every id a request body names is resolved by this field,
    through ``queryset`` cut down to what the caller may use, as its declaration says:

    - nothing more (the default): a tenant-wide record (contact, product, tax, category,
      series, user); the tenant's schema is the boundary;
    - ``workspace_lookup``: the ORM path from the record to its workspace; only records of the
      request's workspace resolve, others "do not exist" (``422``), as a record of another
      workspace is a ``404`` at its URL;
    - ``permission``, for a workspace id: the caller must hold it in that workspace (``403``,
      as for ``X-Workspace-ID``), e.g. ``inventory:transfer`` at both ends of a transfer.

    Inside a ``BulkRelatedListSerializer`` the ids of all lines are loaded with one query per
    field. The isolation matrix (``tests/api/test_isolation_matrix.py``) finds these fields on
    every route's input serializers and tries each with another workspace's or tenant's row.
    """

    def __init__(
        self,
        *,
        workspace_lookup: str | None = None,
        permission: str | None = None,
        noun: str | None = None,
        **kwargs: Any,
    ) -> None:
        queryset = kwargs["queryset"]
        if permission is not None and queryset.model is not Workspace:
            raise TypeError("A permission is checked in the workspace a workspace id names.")
        self.workspace_lookup = workspace_lookup
        self.permission = permission
        #: Rows loaded for every line at once by ``BulkRelatedListSerializer``, by id.
        self.preloaded: dict[int, Model] | None = None
        #: What the copies DRF makes of a declared field for each request share with it
        #: (``__deepcopy__``): the compiled lookup by ids (``rows``).
        self.shared: dict[str, CompiledQuery] = {}
        noun = noun or queryset.model._meta.verbose_name
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"].setdefault(
            "does_not_exist", f"The selected {noun} does not exist."
        )
        super().__init__(**kwargs)

    @property
    def access(self) -> Access:
        return self.context["request"].access

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.workspace_lookup is not None:
            queryset = queryset.filter(**{self.workspace_lookup: self.access.require_workspace()})
        return queryset

    def __deepcopy__(self, memo: dict[int, Any]) -> ScopedRelatedField:
        """The copy DRF makes for each request shares the declaration's queryset, as it
        shares ``shared``, instead of a deep copy of its query (a quarter of the CPU of
        copying a document's input fields). Nothing evaluates or changes that queryset:
        ``get_queryset`` (DRF's and this one's) starts from ``queryset.all()``, a clone.
        DRF's ``Field.__deepcopy__`` copies its keyword arguments with this ``memo``, which
        answers the queryset itself (``tests/billing/test_api_invoices.py`` fails otherwise)."""
        if self.queryset is not None:
            memo[id(self.queryset)] = self.queryset
        field = super().__deepcopy__(memo)
        field.shared = self.shared
        return field

    def rows(self, ids: list[int]) -> dict[int, Model]:
        """The records of ``ids`` this field resolves (``get_queryset``), by id, in one query
        with the ids as one array parameter (``in_bulk`` binds and compiles one per id).

        For a tenant-wide record ``get_queryset`` is the declaration's queryset, the same for
        every request, so its lookup by ids is compiled once per declaration (a
        ``CompiledQuery`` kept in ``shared``): every document line names a product, and
        compiling that lookup cost more than running it."""
        if not ids:
            return {}
        if self.workspace_lookup is not None or (
            type(self).get_queryset is not ScopedRelatedField.get_queryset
        ):
            found = self.get_queryset().filter(AnyOf(F("pk"), ids)).order_by()
            return {row.pk: row for row in found}
        if "by_ids" not in self.shared:
            declared = super().get_queryset()
            self.shared["by_ids"] = CompiledQuery(
                lambda keys: declared.all().filter(AnyOf(F("pk"), keys)).order_by()
            )
        return {row.pk: row for row in self.shared["by_ids"].records(ids)}

    def to_internal_value(self, data: Any) -> Model:
        if isinstance(data, bool) or not str(data).isdigit():
            row = super().to_internal_value(data)  # DRF's errors for what is not an id
        else:
            found = self.rows([int(data)]) if self.preloaded is None else self.preloaded
            row = found.get(int(data))
            if row is None:
                self.fail("does_not_exist", pk_value=data)
        if self.permission is not None:
            self.access.require(self.permission, workspace=row)
        return row


class CurrentWorkspace:
    """The default of a body's workspace id: the request's workspace (``403`` without one).
    The action's own permission, checked there by door 1, covers it."""

    requires_context = True

    def __call__(self, field: serializers.Field) -> Workspace:
        return field.context["request"].access.require_workspace()

    def __repr__(self) -> str:
        return "CurrentWorkspace()"


class BulkRelatedListSerializer(serializers.ListSerializer):
    """``many=True`` input whose child's ``ScopedRelatedField`` values (also inside a
    ``ListField``, such as a line's ``tax_ids``) are loaded with one query per field for the
    whole list (set as the child's ``Meta.list_serializer_class``), not one per line."""

    def to_internal_value(self, data: Any) -> Any:
        # A list over max_length is refused by the parent class before any query is run.
        if isinstance(data, list) and len(data) <= (self.max_length or len(data)):
            lines = [item for item in data if isinstance(item, dict)]
            for name, field in self.child.fields.items():
                many = isinstance(field, serializers.ListField)
                target = field.child if many else field
                if not isinstance(target, ScopedRelatedField):
                    continue
                values = [line.get(name) for line in lines]
                if many:
                    values = [value for each in values if isinstance(each, list) for value in each]
                keys = [*{int(value) for value in values if str(value).isdigit()}]
                target.preloaded = target.rows(keys)
        return super().to_internal_value(data)


#: SPEC §5 "Limits": lines per invoice, quotation, stock adjustment or transfer. A document is
#: written in one transaction holding its tenant's numbering (and stock) locks, so its size
#: bounds how long every other writer of the tenant may have to wait.
MAX_DOCUMENT_ITEMS = 1000


def document_items(child: type[serializers.Serializer], **kwargs: Any) -> serializers.Field:
    """The ``items`` of a document: a list of 1 to ``MAX_DOCUMENT_ITEMS`` ``child`` lines."""
    message = f"At most {MAX_DOCUMENT_ITEMS:,} items are allowed; split the document."
    return child(
        many=True,
        allow_empty=False,
        max_length=MAX_DOCUMENT_ITEMS,
        error_messages={"max_length": message},
        **kwargs,
    )


# --- what request bodies may hold ---------------------------------------------------------
# One walk over the parsed body, before DRF validates it (``validated_data``): JSON types as
# the OpenAPI document states them, decimal inputs, allowed choices, and unknown fields. DRF
# alone coerces liberally and ignores what it does not know; the schema and this walk agree.

UNKNOWN_FIELD = "Unknown field."
DECIMAL_TYPE_ERROR = 'Must be a number or a decimal string such as "12.50".'
DECIMAL_FLOAT_ERROR = "Must be a plain decimal number: no exponent, NaN or Infinity."

#: A nested map of the field names a resource shows (its output serializer), read-only ones
#: included: ``{"id": {}, "items": {"id": {}, "subtotal": {}, ...}, ...}``.
Shown = dict[str, "Shown"]


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The decimal strings ``field`` accepts, as the OpenAPI ``pattern`` documents them and
    ``json_type_errors`` enforces them: JSON's number syntax without an exponent (no leading
    zeros, spaces or bare points), at most the field's whole digits and places, and no sign
    where the field takes no negatives, no zero either where it takes only positives.

    Built once per kind of field: every decimal of every document line is checked against
    it (the same string each time, which ``re`` finds compiled in its cache)."""
    return _decimal_pattern(field.decimal_places, field.max_whole_digits, field.min_value)


@functools.cache
def _decimal_pattern(
    decimal_places: int | None, max_whole_digits: int | None, minimum: Decimal | int | None
) -> str:
    places = "+" if decimal_places is None else f"{{1,{decimal_places}}}"
    more = "*" if max_whole_digits is None else f"{{0,{max_whole_digits - 1}}}"
    number = rf"(?:0|[1-9]\d{more})(?:\.\d{places})?"
    if minimum is None or minimum < 0:
        return rf"^-?{number}$"
    if minimum == 0:
        return rf"^{number}$"
    # Positive: a non-zero whole part, or a zero one with a non-zero digit among the places.
    cents = decimal_places or 1
    fractions = "|".join(
        "0" * i + "[1-9]" + (f"\\d{{0,{cents - 1 - i}}}" if i < cents - 1 else "")
        for i in range(cents)
    )
    return rf"^(?:[1-9]\d{more}(?:\.\d{places})?|0\.(?:{fractions}))$"


def decimal_bounds(field: serializers.DecimalField) -> dict[str, Any]:
    """JSON Schema bounds (OpenAPI 3.0 keywords) of the numbers ``field`` accepts: its
    ``max_value``/``min_value`` within what its digits can hold."""
    cent = Decimal(1).scaleb(-(field.decimal_places or 0))
    largest = None
    if field.max_whole_digits is not None:
        largest = Decimal(10) ** field.max_whole_digits - cent
    maximum = min(
        (bound for bound in (field.max_value, largest) if bound is not None), default=None
    )
    bounds: dict[str, Any] = {} if maximum is None else {"maximum": json_number(maximum)}
    minimum = field.min_value
    if minimum is not None and minimum == cent:
        # At least a cent, in places the field holds: "greater than 0" to a client.
        bounds.update(minimum=0, exclusiveMinimum=True)
    elif minimum is not None:
        bounds["minimum"] = json_number(minimum)
    elif largest is not None:
        bounds["minimum"] = json_number(-largest)
    return bounds


def json_number(value: Decimal | int) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def decimal_input_error(field: serializers.DecimalField, value: Any) -> str | None:
    """Why ``value`` is not a decimal input of ``field`` (SPEC §5), or ``None``. A JSON number
    reaches here as an ``int`` or a ``Decimal`` (``optiflow.api.parsers``: read exactly); one
    written with an exponent, ``NaN`` or ``Infinity`` as a ``float``. Places, digits and
    bounds of numbers are then DRF's ``DecimalField`` checks."""
    if isinstance(value, bool):
        return DECIMAL_TYPE_ERROR
    if isinstance(value, float):
        return DECIMAL_FLOAT_ERROR
    if isinstance(value, (int, Decimal)):
        return None
    if not isinstance(value, str):
        return DECIMAL_TYPE_ERROR
    if re.fullmatch(decimal_pattern(field), value):
        return None
    if field.min_value is not None and re.fullmatch(decimal_pattern(unsigned(field)), value):
        # Well formed, on the wrong side of zero ("-0" too, which DRF would let through).
        return str(field.error_messages["min_value"]).format(min_value=field.min_value)
    return DECIMAL_TYPE_ERROR


def unsigned(field: serializers.DecimalField) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=field.max_digits, decimal_places=field.decimal_places
    )


def choice_error(field: serializers.ChoiceField, value: str) -> str | None:
    if value in field.choice_strings_to_values or (value == "" and field.allow_blank):
        return None
    allowed = ", ".join(field.choice_strings_to_values)
    return f'"{value}" is not a valid choice. Allowed: {allowed}.'


def _expected_json_type(field: serializers.Field) -> tuple[str, Callable[[Any], bool]] | None:
    """The JSON type the schema documents for ``field`` and a test for it; ``None`` for any."""
    if isinstance(field, serializers.BooleanField):
        return "a boolean", lambda value: isinstance(value, bool)
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        return "an array", lambda value: isinstance(value, list)
    if isinstance(field, (serializers.IntegerField, serializers.PrimaryKeyRelatedField)):
        return "an integer", lambda value: isinstance(value, int) and not isinstance(value, bool)
    if isinstance(field, serializers.ChoiceField):
        if all(isinstance(choice, str) for choice in field.choices):
            return "a string", lambda value: isinstance(value, str)
        return None
    if isinstance(field, (serializers.CharField, serializers.DateField, serializers.DateTimeField)):
        return "a string", lambda value: isinstance(value, str)
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return "an object", lambda value: isinstance(value, dict)
    return None


def json_type_errors(field: serializers.Field, value: Any, shown: Shown | None = None) -> Any:
    """Errors of a parsed JSON value against ``field``, in DRF's nested error shape; ``None``
    when there are none:

    * a type other than the one the schema documents (DRF would coerce ``0`` → ``"0"`` for a
      string, ``"12"`` → ``12`` for an id, ``1`` → ``true``; generated clients never send
      those, so they are refused rather than guessed at);
    * a decimal that is neither a plain number nor a decimal string (``decimal_input_error``);
    * a string longer than its ``maxLength`` as sent (DRF measures after trimming spaces);
    * a choice that is not one of the field's, with the allowed values;
    * an object key the serializer does not have: ``"Unknown field."``, unless the resource
      shows a field of that name (``shown``), which a client may send back as it read it."""
    if value is None:
        return None  # DRF's own allow_null check answers this
    if isinstance(field, serializers.DecimalField):
        error = decimal_input_error(field, value)
        return [error] if error else None
    expected = _expected_json_type(field)
    if expected is not None and not expected[1](value):
        return [f"Must be {expected[0]}."]
    max_length = getattr(field, "max_length", None)
    if isinstance(value, str) and max_length is not None and len(value) > max_length:
        return [f"Ensure this field has no more than {max_length} characters."]
    if isinstance(field, serializers.ChoiceField) and isinstance(value, str):
        error = choice_error(field, value)
        return [error] if error else None
    if isinstance(field, serializers.ListSerializer):
        items = [json_type_errors(field.child, item, shown) for item in value]
        return [error or {} for error in items] if any(items) else None
    if isinstance(field, serializers.ListField):
        items = [json_type_errors(field.child, item) for item in value]
        return {index: error for index, error in enumerate(items) if error} or None
    if isinstance(field, serializers.Serializer):
        shown = shown or {}
        fields = field.fields
        # Membership tests of the few names sent, rather than a set of every name known:
        # this runs once per line of a document.
        errors = {
            name: [UNKNOWN_FIELD] for name in value if name not in fields and name not in shown
        }
        for name, child in fields.items():
            if not child.read_only and name in value:
                error = json_type_errors(child, value[name], shown.get(name))
                if error:
                    errors[name] = error
        return errors or None
    return None


@functools.cache
def shown_fields(serializer_class: type[serializers.BaseSerializer] | None) -> Shown:
    """The names ``serializer_class`` renders, nested, every optional include among them.
    Fixed once the apps are ready, and costly (it builds every nested serializer): computed
    once per class; callers only read it."""
    if serializer_class is None:
        return {}
    return _shape(serializer_class())


def _shape(serializer: serializers.Serializer) -> Shown:
    shape: Shown = {}
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        shape[name] = _shape(field) if isinstance(field, serializers.Serializer) else {}
    return shape


def validated_data(serializer: serializers.BaseSerializer, shown: Shown | None = None) -> Any:
    """``serializer.is_valid(raise_exception=True)``, also refusing what ``json_type_errors``
    finds (``shown``: the fields of the resource answered, which a body may repeat). Both
    kinds of error come in one ``422``: a type error replaces DRF's error for that field (DRF
    judged a coerced value), the other fields keep theirs."""
    type_errors = json_type_errors(serializer, serializer.initial_data, shown)
    if not type_errors:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    if isinstance(type_errors, dict):  # the body is an object: its other fields count too
        serializer.is_valid()
        type_errors = {**serializer.errors, **type_errors}
    raise serializers.ValidationError(type_errors)


class VisibleIdsField(serializers.ListField):
    """Ids of records the view's own detail endpoint answers (its scoped queryset), resolved
    in one query into those records, in the order sent. An id the caller cannot reach is
    reported as not existing, as that endpoint's ``404`` would: nothing tells a record of
    another workspace from one that never existed."""

    default_error_messages = {
        "repeated": "An id appears more than once: {ids}.",
        "does_not_exist": "The selected {records} do not exist: {ids}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(min_value=1), **kwargs)

    def to_internal_value(self, data: Any) -> list:
        ids = super().to_internal_value(data)
        if self.max_length is not None and len(ids) > self.max_length:
            self.fail("max_length", max_length=self.max_length)  # before querying them all
        repeated = sorted({pk for pk in ids if ids.count(pk) > 1})
        if repeated:
            self.fail("repeated", ids=", ".join(map(str, repeated)))
        view = self.context["view"]
        queryset = view.filter_queryset(view.get_queryset())
        found = queryset.in_bulk(ids)
        missing = [pk for pk in ids if pk not in found]
        if missing:
            records = queryset.model._meta.verbose_name_plural
            self.fail("does_not_exist", records=records, ids=", ".join(map(str, missing)))
        return [found[pk] for pk in ids]


class JSONObjectField(serializers.DictField):
    """A free-form JSON object (``metadata``). The API's parser reads numbers exactly, as
    ``Decimal`` (money must not go through binary floating point); here, where no field gives
    them a meaning, they become plain JSON numbers again for storage, and the ones ``jsonb``
    cannot hold (``NaN``, ``Infinity``) are refused."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return plain_json(super().to_internal_value(data))


def plain_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise serializers.ValidationError("NaN and Infinity are not JSON numbers.")
    return value
