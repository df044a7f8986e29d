"""Request body parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: How DRF's JSON parser starts its error messages (the exception handler rewrites it).
DRF_JSON_ERROR_PREFIX = "JSON parse error - "
#: SPEC §5: deeper nesting is a 400, found before the (recursive) parser sees it.
MAX_JSON_DEPTH = 64
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
SQUARE_BRACKETS = bytes.maketrans(b"{}", b"[]")
NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


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
    server error. Nesting deeper than ``MAX_JSON_DEPTH`` is refused before parsing, which
    recurses (SPEC §5: ``400``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_too_deep(raw):
            raise ParseError(DRF_JSON_ERROR_PREFIX + f"nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            text = raw.decode(parsers.get_encoding(parser_context or {}))
            data = json.loads(text, parse_float=json_fraction, parse_constant=float)
        except ValueError as exc:  # malformed JSON, or bytes that are not the charset's
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


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit``. Python's parser
    recurses once per level, so a body nested a thousand deep would end in a
    ``RecursionError`` (a 500); this looks at the brackets alone, with C-speed bytes operations:
    strings blanked, the rest reduced to ``[`` and ``]``, then the innermost pairs removed one
    level per pass. Brackets left after ``limit`` passes are nested deeper (or never closed,
    which the parser would also descend into before failing)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # most bodies: too few brackets to nest that deep
    brackets = JSON_STRING.sub(b"", raw).translate(SQUARE_BRACKETS, NOT_BRACKETS)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if inner == brackets:
            break
        brackets = inner
    return b"[]" in brackets or brackets.count(b"[") > limit
