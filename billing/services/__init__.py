"""Writes of billing, one module per use-case family: ``numbering`` (document series and
gapless numbers), ``documents`` (pricing and writing document lines, shared by invoices and
quotations), ``invoices``, ``payments``, ``quotations`` and ``guards`` (refusals registered
with other apps). Events show documents as their detail endpoints do (``billing.apps``).

Lock order, everywhere, so concurrent changes never deadlock: the quotation row, then the
invoice row, then the invoice or quotation series row, then stock levels (taken by
``inventory.services.stock_apply`` in its own fixed order), then the payment series row.
"""
