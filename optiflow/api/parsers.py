"""Request body parsing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: How DRF's JSON parser starts its error messages (the exception handler rewrites it).
DRF_JSON_ERROR_PREFIX = "JSON parse error - "


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing (``400 Malformed JSON``) text that PostgreSQL cannot
    store anywhere in the body, key or value: a NUL (``"\\u0000"``) or an unpaired surrogate
    (``"\\ud800"``, valid JSON syntax but no Unicode character). Left to the database, either
    would fail the write with a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
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
