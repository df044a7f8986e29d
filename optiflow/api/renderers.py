"""The API's JSON, and representations besides JSON: files a view builds as bytes (a PDF,
a ZIP).

Errors never use the file renderers: ``ApiViewMixin.finalize_response`` renders every error as
JSON, whatever the client asked for. The OpenAPI document shows a file renderer's responses as
``format: binary`` (``optiflow.api.schema``), so generated clients hand back bytes.
"""

from __future__ import annotations

from typing import Any

from rest_framework import renderers
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

from optiflow.api.rendering import dumps


class JSONRenderer(renderers.JSONRenderer):
    """DRF's compact JSON, written by orjson for the bodies plans made (lists and records of
    every resource, ``optiflow.api.rendering.planned``): the same bytes, several times faster.
    Other data may hold floats orjson would spell its own way, or a pretty-printed body was
    asked for (``Accept: application/json; indent=2``): those are DRF's."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        context = renderer_context or {}
        fast = getattr(context.get("response"), "planned", False)
        if fast and data is not None and self.get_indent(accepted_media_type, context) is None:
            return dumps(data)
        return super().render(data, accepted_media_type, renderer_context)


class FileRenderer(BaseRenderer):
    """Sends the bytes the view built."""

    charset = None
    render_style = "binary"

    def render(self, data: bytes, accepted_media_type=None, renderer_context=None) -> bytes:
        return data


class PDFRenderer(FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class ZipRenderer(FileRenderer):
    media_type = "application/zip"
    format = "zip"


class FileNegotiation(BaseContentNegotiation):
    """For a URL that names its representation (``/invoices/{id}/pdf``): the view's one
    renderer whatever ``Accept`` says, so that a browser's or an HTTP library's default
    ``Accept`` (``application/json``, ``text/html,...``) never turns a download into a
    ``406``."""

    def select_parser(self, request, parsers) -> Any:
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type
