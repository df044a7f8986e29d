"""Writes of the company profile: provisioning's first version and every later change, from
the API and the admin alike. The logo rule lives here: a PNG or JPEG, recognised by decoding
its bytes (never by the type a client declares), at most 512 KB."""

from __future__ import annotations

import math
from collections.abc import Mapping
from io import BytesIO
from typing import Any

from django.db import transaction
from PIL import Image, UnidentifiedImageError

from company.models import ADDRESS_FIELDS, Company
from optiflow.errors import DomainError
from tenants.models import Tenant, User, Workspace

LOGO_MAX_BYTES = 512 * 1024
#: Pixels per side: a logo prints a few centimetres wide, and each PDF decodes it again.
LOGO_MAX_SIDE = 4096
_PILLOW_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


class InvalidLogo(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="logo")


def logo_content_type(content: bytes) -> str:
    """The MIME type of ``content`` if it is an acceptable logo, else ``InvalidLogo``."""
    if len(content) > LOGO_MAX_BYTES:
        raise InvalidLogo(
            f"The logo must be at most 512 KB; this one is {math.ceil(len(content) / 1024)} KB."
        )
    try:
        # `formats` keeps Pillow from even trying its other decoders on untrusted bytes.
        with Image.open(BytesIO(content), formats=list(_PILLOW_TYPES)) as image:
            if max(image.size) > LOGO_MAX_SIDE:
                raise InvalidLogo(
                    f"The logo must be at most {LOGO_MAX_SIDE} pixels wide and high; this one "
                    f"is {image.width}×{image.height}."
                )
            # Opening reads the header only: decoding every pixel is what proves the image
            # whole (a truncated or corrupted file fails here, not in every PDF later).
            image.load()
            return _PILLOW_TYPES[image.format]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidLogo("The logo must be a PNG or JPEG image.") from None


def company_provision(tenant: Tenant, owner: User, workspace: Workspace) -> None:
    """Provisioning hook: a new tenant's profile starts with its name as the legal name."""
    Company.objects.update_or_create(pk=Company.SINGLETON_ID, defaults={"legal_name": tenant.name})


@transaction.atomic
def company_update(*, company: Company, data: Mapping[str, Any]) -> Company:
    """Set the given fields. ``address`` (a mapping of ``ADDRESS_FIELDS``) replaces the whole
    address: keys left out become empty. ``logo`` is the image's bytes, or ``None`` to remove
    it."""
    changes = dict(data)
    if "address" in changes:
        address = changes.pop("address")
        changes.update({f"address_{key}": address.get(key, "") for key in ADDRESS_FIELDS})
    if "logo" in changes:
        logo = changes["logo"]
        changes["logo_type"] = "" if logo is None else logo_content_type(logo)
    for field, value in changes.items():
        setattr(company, field, value)
    # Only the fields sent: two people changing different fields at once both keep theirs.
    company.save(update_fields=[*changes, "updated_at"])
    return company
