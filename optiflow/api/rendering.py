"""List and detail bodies without a DRF serializer per row, and their JSON bytes.

The output serializers stay the one declaration of each resource's shape (the OpenAPI document
is generated from them). ``plan_for`` compiles a serializer class and a request's includes,
once per pair, into a ``Plan``: per field, a getter and a converter chosen for the field's kind
and the model attribute it reads. Rendering a page is then plain Python over the rows (model
instances with their relations prefetched), with the result DRF would give, key for key and
byte for byte once rendered:

* a field kind the compiler does not know (or a serializer or field that overrides
  ``to_representation``) is ``ImproperlyConfigured`` at the first compile, never a silent
  difference; every resource's plans are compiled by the parity tests;
* the fast converters only take the values whose result they know (a decimal already at the
  field's places, a UTC timestamp); any other value goes through the field's own
  ``to_representation``;
* a getter that raises goes through DRF's ``Field.get_attribute``, whose defaults, ``null``
  and skipped fields then apply.

``dumps`` writes such data with orjson, byte for byte as DRF's ``JSONRenderer`` (compact,
``ensure_ascii=False``, U+2028/U+2029 escaped; what orjson cannot hold, such as an integer
beyond 64 bits, is left to DRF). Floats are the one value orjson spells differently (``1e16``
for Python's ``1e+16``): a plan wraps every float it passes through (free-form JSON such as
``metadata``) as ``ExactFloat``, which ``dumps`` writes as Python does. Data not made by a
plan may hold plain floats, so it is rendered by DRF's encoder instead
(``optiflow.api.renderers.JSONRenderer``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ObjectDoesNotExist
from django.db import models
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
)
from django.db.models.manager import BaseManager
from django.db.models.query_utils import DeferredAttribute
from django.utils import timezone
from rest_framework import renderers, serializers
from rest_framework.fields import ISO_8601, SkipField, _UnvalidatedField
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

Converter = Callable[[Any], Any]
#: Builds a field's converter for one request, from the serializer context (method fields
#: call their serializer's method; timestamps depend on the active time zone).
ConverterFactory = Callable[[dict[str, Any]], Converter]


# --- the bytes ------------------------------------------------------------------------------


class ExactFloat(float):
    """A float that ``dumps`` writes as Python's ``json`` does (``1e+16``, ``1e-05``)."""

    __slots__ = ()


def exact_floats(value: Any) -> Any:
    """``value`` (free-form JSON) with its floats as ``ExactFloat``; the same object when it
    holds none, so a ``metadata`` of strings costs a walk and no copy."""
    kind = type(value)
    if kind is float:
        return ExactFloat(value)
    if kind is dict or isinstance(value, Mapping):
        items = {key: exact_floats(item) for key, item in value.items()}
        unchanged = all(items[key] is item for key, item in value.items())
        return value if unchanged else items
    if kind is list or kind is tuple:
        converted = [exact_floats(item) for item in value]
        unchanged = all(new is old for new, old in zip(converted, value, strict=True))
        return value if unchanged else converted
    return value


_ENCODER = JSONEncoder()


def _python_float(number: float) -> orjson.Fragment:
    # DRF's renderer is strict: NaN and Infinity are not JSON.
    if not math.isfinite(number):
        raise ValueError("Out of range float values are not JSON compliant")
    return orjson.Fragment(float.__repr__(number).encode())


def _default(value: Any) -> Any:
    """What orjson does not write itself, written as DRF's encoder writes it."""
    if isinstance(value, float):  # ExactFloat
        return _python_float(value)
    if isinstance(value, Decimal):  # DRF's encoder: float(), then Python's float syntax
        return _python_float(float(value))
    return _ENCODER.default(value)


#: orjson writes datetimes, dates, times and dataclasses its own way: those go to ``_default``
#: (DRF's encoder).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(data: Any) -> bytes:
    """``data`` (made by a plan: no bare float) as DRF's compact ``JSONRenderer`` writes it.
    What orjson cannot hold (an integer beyond 64 bits, a non-string key) is left to DRF."""
    try:
        body = orjson.dumps(data, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return renderers.JSONRenderer().render(data)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        # As DRF does: U+2028/U+2029 are valid JSON but end a line in JavaScript.
        body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return body


# --- converters per field kind ----------------------------------------------------------------


def _fixed(converter: Converter) -> ConverterFactory:
    return lambda context: converter


def _integer(field: serializers.IntegerField) -> ConverterFactory:
    return _fixed(int)


def _big_integer(field: serializers.BigIntegerField) -> ConverterFactory:
    if getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING):
        return _fixed(str)
    return _fixed(int)


def _string(field: serializers.CharField) -> ConverterFactory:
    return _fixed(str)


def _boolean(field: serializers.BooleanField) -> ConverterFactory:
    slow = field.to_representation

    def convert(value: Any) -> Any:
        return value if value is True or value is False else slow(value)

    return _fixed(convert)


def _decimal(field: serializers.DecimalField) -> ConverterFactory:
    slow = field.to_representation
    as_string = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not as_string or field.localize or field.normalize_output or field.decimal_places is None:
        return _fixed(slow)
    places, digits = field.decimal_places, field.max_digits

    def convert(value: Any) -> Any:
        # A value already at the field's places (a numeric column of the same scale) and
        # within its digits is what DRF's quantize returns; anything else goes through DRF.
        if type(value) is Decimal:
            text = f"{value:f}"
            if places:
                at_places = len(text) > places and text[-places - 1] == "."
            else:
                at_places = "." not in text
            # Digits as written (a leading "0." counts): never fewer than the coefficient's.
            written = len(text) - (places > 0) - (text[0] == "-")
            if at_places and (digits is None or written <= digits):
                return text
        return slow(value)

    return _fixed(convert)


def _datetime(field: serializers.DateTimeField) -> ConverterFactory:
    slow = field.to_representation
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if output_format is None or output_format.lower() == ISO_8601 or hasattr(field, "timezone"):
        return _fixed(slow)
    utc = dt.UTC
    if output_format == "%Y-%m-%dT%H:%M:%S.%fZ":
        # The project's format (settings.REST_FRAMEWORK): ISO 8601 with microseconds in UTC,
        # which isoformat writes twice as fast as strftime, for four-digit years.
        def convert(value: Any) -> Any:
            if value.tzinfo is utc and value.year >= 1000:
                return value.isoformat(timespec="microseconds")[:-6] + "Z"
            return slow(value)

    else:

        def convert(value: Any) -> Any:
            # DRF converts to the active time zone first: UTC to UTC changes nothing.
            return value.strftime(output_format) if value.tzinfo is utc else slow(value)

    def factory(context: dict[str, Any]) -> Converter:
        return convert if timezone.get_current_timezone_name() == "UTC" else slow

    return factory


def _date(field: serializers.DateField) -> ConverterFactory:
    slow = field.to_representation
    if getattr(field, "format", api_settings.DATE_FORMAT).lower() != ISO_8601:
        return _fixed(slow)

    def convert(value: Any) -> Any:
        return value.isoformat() if type(value) is dt.date else slow(value)

    return _fixed(convert)


def _choice(field: serializers.ChoiceField) -> ConverterFactory:
    choices = field.choice_strings_to_values

    def convert(value: Any) -> Any:
        return value if value == "" else choices.get(str(value), value)

    return _fixed(convert)


def _free_json(field: serializers.Field) -> ConverterFactory:
    """A value written as it is (``ReadOnlyField``, ``JSONField``): only its floats wrapped."""
    if getattr(field, "binary", False):
        slow = field.to_representation
        return _fixed(lambda value: exact_floats(slow(value)))
    return _fixed(exact_floats)


def _dict(field: serializers.DictField) -> ConverterFactory:
    child = converter_factory(field.child, None)

    def factory(context: dict[str, Any]) -> Converter:
        convert = child(context)

        def convert_dict(value: Any) -> Any:
            return {
                str(key): None if item is None else convert(item) for key, item in value.items()
            }

        return convert_dict

    return factory


def _list(field: serializers.ListField) -> ConverterFactory:
    child = converter_factory(field.child, None)

    def factory(context: dict[str, Any]) -> Converter:
        convert = child(context)
        return lambda value: [None if item is None else convert(item) for item in value]

    return factory


def _method(field: serializers.SerializerMethodField) -> ConverterFactory:
    owner, name = type(field.parent), field.method_name

    def factory(context: dict[str, Any]) -> Converter:
        # The method reads only its serializer's context: an unbound instance holds it.
        method = getattr(owner(context=context), name)
        return lambda value: exact_floats(method(value))

    return factory


#: Field classes by the ``to_representation`` they use: a subclass that keeps its base's
#: method gets the base's converter; one that overrides it is not compiled.
CONVERTERS: dict[type[serializers.Field], Callable[[Any], ConverterFactory]] = {
    serializers.IntegerField: _integer,
    serializers.BigIntegerField: _big_integer,
    serializers.CharField: _string,
    serializers.BooleanField: _boolean,
    serializers.DecimalField: _decimal,
    serializers.DateTimeField: _datetime,
    serializers.DateField: _date,
    serializers.ChoiceField: _choice,
    serializers.ReadOnlyField: _free_json,
    serializers.JSONField: _free_json,
    serializers.DictField: _dict,
    serializers.ListField: _list,
    serializers.SerializerMethodField: _method,
    # The child of a DictField or ListField declared without one: any JSON value.
    _UnvalidatedField: _free_json,
}


def converter_factory(
    field: serializers.Field, model: type[models.Model] | None
) -> ConverterFactory:
    """How ``field`` of a serializer over rows of ``model`` turns a value into JSON data."""
    if isinstance(field, serializers.ListSerializer):
        return _many(field, model)
    if isinstance(field, serializers.Serializer):
        return _nested(field, model)
    for kind in type(field).__mro__:
        if "to_representation" in vars(kind):
            build = CONVERTERS.get(kind)
            if build is None:
                break
            return build(field)
    raise ImproperlyConfigured(
        f"optiflow.api.rendering cannot render {type(field).__name__} "
        f"{field.field_name!r} of {type(field.parent).__name__}: add its kind to CONVERTERS."
    )


def _nested(serializer: serializers.Serializer, parent: type[models.Model] | None):
    return Plan(serializer, _related_model(serializer, parent)).row_renderer


def _many(field: serializers.ListSerializer, parent: type[models.Model] | None):
    if type(field).to_representation is not serializers.ListSerializer.to_representation:
        raise ImproperlyConfigured(f"{type(field).__name__} overrides to_representation.")
    child = Plan(field.child, _related_model(field, parent))

    def factory(context: dict[str, Any]) -> Converter:
        render = child.row_renderer(context)

        def convert(value: Any) -> list[dict[str, Any]]:
            rows = value.all() if isinstance(value, BaseManager) else value
            return [render(row) for row in rows]

        return convert

    return factory


# --- getters --------------------------------------------------------------------------------

#: Model attributes read as they are: fields, foreign keys and related managers.
PLAIN_ATTRIBUTES = (
    DeferredAttribute,
    ForwardManyToOneDescriptor,
    ReverseManyToOneDescriptor,
    ManyToManyDescriptor,
    property,
)


def _model_of(serializer: serializers.Serializer) -> type[models.Model] | None:
    meta = getattr(serializer, "Meta", None)
    return getattr(meta, "model", None)


def _related_model(
    field: serializers.Field, parent: type[models.Model] | None
) -> type[models.Model] | None:
    """The model of the rows a nested serializer gets: its own ``Meta.model``, or that of the
    relation its source names on its parent's model (an invoice's ``items``)."""
    serializer = field.child if isinstance(field, serializers.ListSerializer) else field
    model = _model_of(serializer)
    if model is not None:
        return model
    if parent is None or len(field.source_attrs) != 1:
        return None
    try:
        relation = parent._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:  # a property, a prefetch's ``to_attr``
        return None
    return relation.related_model


def getter(field: serializers.Field, model: type[models.Model] | None) -> str | Callable:
    """How ``field`` reads its value from a row of ``model``: the name of the attribute read
    directly where DRF's walk would do just that (a model field, relation or property), DRF's
    own ``get_attribute`` otherwise (dotted sources, dictionaries, methods it calls)."""
    if field.source == "*":
        return lambda row: row
    if model is not None and len(field.source_attrs) == 1 and field.source.isidentifier():
        attribute = getattr(model, field.source, None)
        # None: an instance attribute (an annotation, a prefetch's ``to_attr``), which DRF's
        # walk would call only if it were a function, which these never are.
        if attribute is None or isinstance(attribute, PLAIN_ATTRIBUTES):
            return field.source
    return field.get_attribute


# --- plans ------------------------------------------------------------------------------------


class Plan:
    """A bound serializer compiled: what each of its readable fields reads and writes.

    A row is rendered by a function generated once per plan: one dictionary display reading
    attributes directly, no loop over fields. A row on which it raises (a getter DRF would
    answer with a default, ``null`` or no field at all) is rendered again field by field with
    DRF's ``get_attribute``, which decides as DRF does, and re-raises what DRF would.
    """

    def __init__(self, serializer: serializers.Serializer, model: type[models.Model] | None):
        if type(serializer).to_representation is not serializers.Serializer.to_representation:
            raise ImproperlyConfigured(f"{type(serializer).__name__} overrides to_representation.")
        self.fields = [
            (name, getter(field, model), field.get_attribute, converter_factory(field, model))
            for name, field in serializer.fields.items()
            if not field.write_only
        ]
        self.make_renderer = self._generate()

    def _generate(self) -> Callable[..., Callable[[Any], dict[str, Any]]]:
        entries = []
        for index, (name, get, _, _) in enumerate(self.fields):
            read = f"row.{get}" if isinstance(get, str) else f"g{index}(row)"
            entries.append(f"        {name!r}: None if (v := {read}) is None else c{index}(v),")
        params = ", ".join(f"g{i}, c{i}" for i in range(len(self.fields)))
        source = "\n".join(
            [
                f"def make({params}{', ' if params else ''}careful):",
                "  def render(row):",
                "    try:",
                "      return {",
                *entries,
                "      }",
                "    except (SkipField, AttributeError, KeyError, ObjectDoesNotExist):",
                "      return careful(row)",
                "  return render",
            ]
        )
        namespace = {"SkipField": SkipField, "ObjectDoesNotExist": ObjectDoesNotExist}
        exec(compile(source, f"<plan {id(self):x}>", "exec"), namespace)
        return namespace["make"]

    def row_renderer(self, context: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
        """A function rendering one row as the serializer would, for this request."""
        fields = [(name, get, slow, make(context)) for name, get, slow, make in self.fields]

        def careful(row: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, get, slow, convert in fields:
                try:
                    value = getattr(row, get) if isinstance(get, str) else get(row)
                except SkipField:
                    continue
                except (AttributeError, KeyError, ObjectDoesNotExist):
                    try:
                        value = slow(row)  # DRF's defaults, nulls and skips
                    except SkipField:
                        continue
                out[name] = None if value is None else convert(value)
            return out

        arguments = [each for _, get, _, convert in fields for each in (get, convert)]
        return self.make_renderer(*arguments, careful)

    def render(self, rows: Iterable[Any], context: dict[str, Any]) -> list[dict[str, Any]]:
        render = self.row_renderer(context)
        return [render(row) for row in rows]


_PLANS: dict[tuple[type[serializers.Serializer], frozenset[str]], Plan] = {}


def plan_for(serializer_class: type[serializers.Serializer], includes: frozenset[str]) -> Plan:
    """The plan of ``serializer_class`` with ``includes``, compiled on first use. The fields
    come from a serializer bound with only ``include`` in its context: what a field set
    depends on (``IncludableSerializer``) must not depend on the request."""
    key = (serializer_class, includes)
    plan = _PLANS.get(key)
    if plan is None:
        serializer = serializer_class(context={"include": includes})
        plan = _PLANS[key] = Plan(serializer, _model_of(serializer))
    return plan


def planned(response: Response) -> Response:
    """Mark ``response`` as holding only data made by plans (and plain pagination meta), which
    ``optiflow.api.renderers.JSONRenderer`` may then write with ``dumps``."""
    response.planned = True
    return response
