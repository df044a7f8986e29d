"""The tenant admin in a real browser: Debian's Chromium driven by Playwright, against the
web server of ``make run`` on the test database (``tests.servers``), as tenant staff use it:
sign in, read the dashboard, create an API token and see it once, revoke it, try to stop
tracking stock of a product that has stock, and read list pages that fit a 1280 px window.
Screenshots go to a temporary folder whose path is printed.

Skipped, saying why, where Chromium is missing (``.ci/run`` installs it with apt-get)."""

from __future__ import annotations

import re
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from inventory.models import Product
from tests.billing.factories import item, make_invoice
from tests.conftest import OWNER_PASSWORD
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory, give_stock, ledger_mismatches
from tests.servers import web_servers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: List pages that must fit a 1280 px wide window without scrolling sideways.
LISTS = ["inventory/product", "inventory/stockmovement", "billing/invoice", "tenants/apitoken"]
TRACK_STOCK_REFUSED = "The product has stock records, so it must keep tracking stock."

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does)",
)


def api_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_tenant_staff_use_the_admin_in_a_browser(committed_tenant):
    from playwright.sync_api import expect, sync_playwright

    owner, workspace = committed_tenant.owner, committed_tenant.workspace
    name = f"Browser widget {uuid.uuid4().hex[:8]}"
    product = ProductFactory(name=name, sku=name.replace(" ", "-"))
    give_stock(product, workspace, "48", actor=owner, minimum="50")
    customer = ContactFactory(name="Northwind Traders International Holdings")
    make_invoice(workspace=workspace, actor=owner, contact=customer, items=[item(product)])
    shots = Path(tempfile.mkdtemp(prefix="optiflow-admin-screenshots-"))
    print(f"\nAdmin screenshots: {shots}")

    with (
        web_servers(env={"DJANGO_SECURE_COOKIES": "0"}) as [base],
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        admin = f"{base}/t/{committed_tenant.tenant.slug}/admin"

        page.goto(f"{admin}/login/")
        page.fill("input[name=username]", owner.email)
        page.fill("input[name=password]", OWNER_PASSWORD)
        page.click("button[type=submit]")
        dashboard = page.locator("#dashboard")
        expect(dashboard).to_contain_text("Sales today")
        expect(dashboard).to_contain_text("Low stock")
        expect(dashboard).to_contain_text(name)  # 47 on hand after a sale, minimum 50
        page.screenshot(path=shots / "1-dashboard.png", full_page=True)

        page.goto(f"{admin}/tenants/apitoken/add/")
        page.select_option("select[name=user]", str(owner.pk))
        page.fill("input[name=name]", "from the browser")
        page.click("button[name=_save]")
        shown = page.get_by_text("shown only once").inner_text()
        plaintext = re.search(r"\d+\|[A-Za-z0-9_-]{40,}", shown).group()
        page.screenshot(path=shots / "2-token-created.png", full_page=True)
        me = f"{base}/t/{committed_tenant.tenant.slug}/api/v1/me"
        assert api_status(me, plaintext) == 200
        page.reload()
        assert plaintext not in page.content()  # shown once, never again

        token_id = plaintext.split("|")[0]
        page.check(f"input[name=_selected_action][value='{token_id}']")
        page.select_option("select[name=action]", "revoke")
        page.click("button[name=index]")
        expect(page.get_by_text("Revoked 1 token(s).")).to_be_visible()
        page.screenshot(path=shots / "3-token-revoked.png", full_page=True)
        assert api_status(me, plaintext) == 401

        page.goto(f"{admin}/inventory/product/{product.pk}/change/")
        expect(page.get_by_text("Low Stock")).to_be_visible()  # the stock-by-workspace inline
        page.uncheck("input[name=track_stock]")
        page.click("button[name=_save]")
        expect(page.get_by_text(TRACK_STOCK_REFUSED)).to_be_visible()
        page.screenshot(path=shots / "4-track-stock-refused.png", full_page=True)

        for number, listing in enumerate(LISTS, start=5):
            page.goto(f"{admin}/{listing}/")
            table = page.locator("#result_list")
            overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
            page.screenshot(path=shots / f"{number}-{listing.replace('/', '-')}.png")
            assert overflow <= 0, f"{listing} is {overflow}px wider than the page at 1280 px"
        browser.close()

    assert Product.objects.get(pk=product.pk).track_stock
    assert ledger_mismatches() == []
