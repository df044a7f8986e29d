"""Request body parsing."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: How DRF's JSON parser starts its error messages (the exception handler rewrites it).
DRF_JSON_ERROR_PREFIX = "JSON parse error - "


def json_fraction(text: str) -> Decimal | float:
    """A JSON number with a fraction or an exponent. Plain decimals (``2.5``) are read exactly,
    as ``Decimal``; one written with an exponent (``1e2``) stays a ``float``, which decimal
    fields refuse (SPEC §5) and free-form objects store as any JSON number."""
    return float(text) if "e" in text or "E" in text else Decimal(text)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading numbers exactly (``json_fraction``; ``NaN`` and ``Infinity``
    become floats that every field refuses with a ``422`` under its name), and refusing
    (``400 Malformed JSON``) text that PostgreSQL cannot store anywhere in the body, key or
    value: a NUL (``"\\u0000"``) or an unpaired surrogate (``"\\ud800"``, valid JSON syntax
    but no Unicode character). Left to the database, either would fail the write with a
    server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            data = json.load(
                codecs.getreader(encoding)(stream), parse_float=json_fraction, parse_constant=float
            )
        except ValueError as exc:
            raise ParseError(DRF_JSON_ERROR_PREFIX + str(exc)) from None
        for text in strings(data):
            if "\x00" in text:
                raise ParseError(
                    DRF_JSON_ERROR_PREFIX + "NUL characters (\\u0000) are not allowed."
                )
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError(DRF_JSON_ERROR_PREFIX + "unpaired Unicode surrogate.") from None
        return data


def strings(value: Any) -> Iterator[str]:
    """Every string in parsed JSON, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
