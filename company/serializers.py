"""Input and output shapes of the company profile. The logo travels as a ``data:`` URI; the
input field checks the URI's shape and that the bytes are what it declares, and hands the
bytes on: whether they are an acceptable image is the service's rule."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from rest_framework import serializers

from company.models import LOGO_TYPES, Company

LOGO_HELP = (
    "PNG or JPEG as a `data:` URI (`data:image/png;base64,...`), at most 512 KB decoded and "
    "4096 pixels a side; the image is checked by decoding it, and must be of the type the URI "
    "declares. `null` removes the logo."
)
#: What each type's files start with.
SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
#: RFC 2397, base64 only. Parameters (`;name=logo.png`) and line breaks in the data (some
#: encoders wrap it at 76 characters) are tolerated.
DATA_URI = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[^;,]*)*;base64,(?P<data>[A-Za-z0-9+/=\s]*)"
)


#: The profile as the API reads and writes it (SPEC §8.11).
PROFILE_FIELDS = [
    "legal_name",
    "trade_name",
    "tax_id",
    "email",
    "phone",
    "website",
    "address",
    "logo",
    "invoice_footer",
    "quotation_footer",
]


class CompanyAddressSerializer(serializers.Serializer):
    line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)


class CompanySerializer(serializers.ModelSerializer):
    address = CompanyAddressSerializer(read_only=True)
    logo = serializers.CharField(
        source="logo_data_uri", read_only=True, allow_null=True, help_text="A `data:` URI."
    )

    class Meta:
        model = Company
        fields = [*PROFILE_FIELDS, "updated_at"]
        read_only_fields = fields


class DataUriImageField(serializers.CharField):
    """A ``data:image/png;base64,...`` or ``data:image/jpeg;base64,...`` URI → its bytes."""

    def __init__(self, **kwargs: Any) -> None:
        # No `max_length`: the size rule is on the decoded bytes (the service's, with its
        # message), and the request body limit bounds what is decoded here.
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> bytes:
        match = DATA_URI.fullmatch(super().to_internal_value(data))
        if match is None:
            raise serializers.ValidationError(
                "Send the image as a data URI: data:image/png;base64,... or "
                "data:image/jpeg;base64,..."
            )
        declared = match["type"].lower()
        if declared not in LOGO_TYPES:
            raise serializers.ValidationError(
                f"The logo must be a PNG or JPEG image, not {declared}."
            )
        try:
            content = base64.b64decode(re.sub(r"\s", "", match["data"]), validate=True)
        except binascii.Error:
            raise serializers.ValidationError("The data URI is not valid base64.") from None
        if not content.startswith(SIGNATURES[declared]):
            raise serializers.ValidationError(
                f"The data URI declares {declared}, but the bytes are not of that type."
            )
        return content


class CompanyUpdateSerializer(serializers.ModelSerializer):
    address = CompanyAddressSerializer(
        required=False, help_text="Replaces the whole address: fields left out become empty."
    )
    logo = DataUriImageField(required=False, allow_null=True, help_text=LOGO_HELP)

    class Meta:
        model = Company
        fields = PROFILE_FIELDS
