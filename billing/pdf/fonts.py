"""The typeface of the documents: Lato, from the ``fontpkg-lato`` package on PyPI (SIL Open
Font License), embedded (subset) in every PDF.

Why Lato: static TrueType files (reportlab cannot use variable fonts) covering accented Latin,
Greek and Cyrillic and every currency symbol CLDR gives in English, with tabular figures by
default, so right-aligned amounts line up digit for digit without OpenType features, which
reportlab does not apply. The files are read from the installed package: nothing is fetched at
run time.
"""

from __future__ import annotations

import functools

import fontpkg
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "Lato"
BOLD = "Lato-Bold"


@functools.cache
def register_fonts() -> None:
    """Load the fonts into reportlab once per process (parsing them takes a few ms)."""
    pdfmetrics.registerFont(TTFont(REGULAR, fontpkg.path("Lato", 400)))
    pdfmetrics.registerFont(TTFont(BOLD, fontpkg.path("Lato", 700)))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)
