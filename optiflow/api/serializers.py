"""Serializer building blocks shared by every app."""

from __future__ import annotations

from rest_framework import serializers


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
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)


class BulkPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key of a line item, resolved from the rows its list serializer loaded for all
    lines at once (``BulkRelatedListSerializer``) instead of one query per line."""

    preloaded: dict | None = None

    def to_internal_value(self, data):
        if self.preloaded is None or isinstance(data, bool) or not str(data).isdigit():
            return super().to_internal_value(data)
        instance = self.preloaded.get(int(data))
        if instance is None:
            self.fail("does_not_exist", pk_value=data)
        return instance


class BulkRelatedListSerializer(serializers.ListSerializer):
    """``many=True`` input whose child's ``BulkPrimaryKeyRelatedField`` values are loaded with
    one query per field for the whole list (set as the child's ``Meta.list_serializer_class``)."""

    def to_internal_value(self, data):
        if isinstance(data, list):
            for name, field in self.child.fields.items():
                if isinstance(field, BulkPrimaryKeyRelatedField):
                    keys = {
                        int(item[name])
                        for item in data
                        if isinstance(item, dict) and str(item.get(name)).isdigit()
                    }
                    field.preloaded = field.get_queryset().in_bulk(keys)
        return super().to_internal_value(data)
