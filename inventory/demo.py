"""Demo data for `make run`'s demo tenant: a hardware store's catalog, its opening stock in
both workspaces, and a little stock history (an adjustment, a transfer), all written through
the services."""

from __future__ import annotations

from decimal import Decimal

from inventory.models import Product
from inventory.services import (
    AdjustmentItem,
    InitialStock,
    TransferItem,
    category_create,
    product_create,
    stock_adjustment_create,
    stock_transfer_create,
    tax_create,
)
from tenants.models import User, Workspace

D = Decimal

# name, sku, category, price, cost, stock in the main workspace, in the branch, minimum
GOODS = [
    ("Claw Hammer 16 oz", "HT-HAM-16", "Hand tools", "24.90", "11.20", 40, 12, 10),
    ("Screwdriver Set, 8 pc", "HT-SCR-08", "Hand tools", "19.50", "8.40", 35, 10, 8),
    ('Adjustable Wrench 10"', "HT-WRE-10", "Hand tools", "17.80", "7.90", 25, 6, 5),
    ("Tape Measure 5 m", "HT-TAP-05", "Hand tools", "9.90", "3.60", 60, 20, 15),
    ("Utility Knife", "HT-KNI-01", "Hand tools", "6.50", "2.10", 80, 25, 20),
    ("Spirit Level 60 cm", "HT-LEV-60", "Hand tools", "21.00", "9.80", 18, 4, 5),
    ("Hand Saw 500 mm", "HT-SAW-50", "Hand tools", "16.40", "7.00", 14, 3, 4),
    ("Cordless Drill 18 V", "PT-DRL-18", "Power tools", "129.00", "78.00", 12, 4, 3),
    ("Impact Driver 18 V", "PT-IMP-18", "Power tools", "149.00", "92.00", 8, 2, 3),
    ("Circular Saw 1400 W", "PT-CIR-14", "Power tools", "119.00", "70.50", 6, 2, 2),
    ("Random Orbit Sander", "PT-SAN-125", "Power tools", "79.00", "44.00", 9, 0, 2),
    ("Angle Grinder 115 mm", "PT-GRI-115", "Power tools", "59.00", "31.00", 11, 3, 3),
    ("Battery Pack 18 V 4 Ah", "PT-BAT-4AH", "Power tools", "69.00", "38.00", 20, 6, 5),
    ("Wood Screws 4x40, 200 pc", "FX-SCR-440", "Fasteners", "7.20", "2.40", 150, 60, 40),
    ("Wall Plugs 8 mm, 100 pc", "FX-PLG-08", "Fasteners", "4.80", "1.30", 120, 40, 30),
    ("Wood Glue 500 ml", "FX-GLU-500", "Fasteners", "8.90", "3.70", 45, 15, 10),
    ("Interior Paint White 10 L", "PA-INT-10W", "Paint", "64.00", "36.00", 22, 8, 6),
    ("Exterior Paint Grey 5 L", "PA-EXT-05G", "Paint", "48.00", "27.50", 14, 5, 4),
    ("Primer 2.5 L", "PA-PRI-25", "Paint", "26.00", "13.00", 18, 6, 5),
    ("Paint Roller Kit", "PA-ROL-KIT", "Paint", "14.50", "5.80", 30, 10, 8),
    ("Brush Set, 3 pc", "PA-BRU-03", "Paint", "11.90", "4.20", 40, 12, 10),
    ("Masking Tape 50 m", "PA-TAP-50", "Paint", "4.50", "1.40", 90, 30, 25),
    ("Garden Hose 25 m", "GA-HOS-25", "Garden", "34.00", "17.00", 16, 6, 4),
    ("Pruning Shears", "GA-PRU-01", "Garden", "22.50", "9.90", 20, 8, 5),
    ("Potting Soil 40 L", "GA-SOI-40", "Garden", "9.80", "4.10", 70, 0, 20),
    ("Lawn Fertiliser 5 kg", "GA-FER-05", "Garden", "18.90", "8.20", 3, 10, 5),
    ("Wheelbarrow 90 L", "GA-WHE-90", "Garden", "89.00", "52.00", 5, 1, 2),
]

# name, sku, price, product type
SERVICES = [
    ("Tool Sharpening", "SV-SHARP", "12.00", Product.Type.SERVICE),
    ("Paint Colour Matching", "SV-COLOUR", "8.00", Product.Type.SERVICE),
    ("Key Cutting", "SV-KEY", "6.50", Product.Type.SERVICE),
    ("Delivery (local)", "SV-DELIV", "25.00", Product.Type.SERVICE),
    ("DIY Workshop Voucher", "DG-WORKSHOP", "45.00", Product.Type.DIGITAL),
]


def seed(*, owner: User, workspaces: list[Workspace]) -> None:
    """Runs inside the demo tenant's schema, in one transaction, once (on provisioning)."""
    main, branch = workspaces
    standard = tax_create(name="VAT 18%", rate=D("18"), is_default=True)
    reduced = tax_create(name="Reduced 5%", rate=D("5"))
    tax_create(name="Exempt", rate=D("0"))

    hardware = category_create(name="Hardware")
    categories = {
        name: category_create(name=name, parent=hardware)
        for name in ("Hand tools", "Power tools", "Fasteners")
    }
    categories["Paint"] = category_create(name="Paint")
    categories["Garden"] = category_create(name="Garden")
    services = category_create(name="Services")

    products: dict[str, Product] = {}
    for index, (name, sku, category, price, cost, here, there, minimum) in enumerate(GOODS):
        opening = [
            InitialStock(main, D(here), minimum_quantity=D(minimum), unit_cost=D(cost)),
            InitialStock(branch, D(there), minimum_quantity=D(minimum) / 2, unit_cost=D(cost)),
        ]
        products[sku] = product_create(
            actor=owner,
            name=name,
            sku=sku,
            category=categories[category],
            price=D(price),
            cost=D(cost),
            default_tax=reduced if category == "Garden" else standard,
            barcode=f"40012345{index:05d}",
            initial_stock=opening,
        )
    for name, sku, price, kind in SERVICES:
        product_create(
            actor=owner,
            name=name,
            sku=sku,
            price=D(price),
            product_type=kind,
            category=services,
            default_tax=standard,
        )

    stock_adjustment_create(
        workspace=main,
        actor=owner,
        reference="COUNT-2024-01",
        notes="Monthly count",
        items=[
            AdjustmentItem(products["HT-KNI-01"], D("-2"), "damaged", "Broken blister packs"),
            AdjustmentItem(products["FX-SCR-440"], D("5"), "found"),
            AdjustmentItem(products["PA-TAP-50"], D("-1"), "lost"),
        ],
    )
    stock_transfer_create(
        from_workspace=main,
        to_workspace=branch,
        actor=owner,
        reference="TR-0001",
        notes="Restock the branch",
        items=[
            TransferItem(products["PT-DRL-18"], D("2")),
            TransferItem(products["PA-INT-10W"], D("4")),
        ],
    )
