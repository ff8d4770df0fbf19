"""The demo page in a real headless Chromium: open an article, click its next slot.

Needs Debian's Chromium (`apt-get install -y chromium`) and playwright's Python package
(`pip install playwright`; its bundled driver is used with /usr/bin/chromium, never
`playwright install`). Skipped cleanly where either is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from service.http.app import create_app
from service.settings import ServiceSettings
from tests.service_support import build_index, running_server

CHROMIUM = Path(os.environ.get("NEWSREC_CHROMIUM", "/usr/bin/chromium"))
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() or shutil.which(str(CHROMIUM))),
        reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)",
    ),
]

# As a root process in a container with no network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    settings = build_index(tmp_path / "index")
    app = create_app(settings, ServiceSettings(access_log=False))
    with running_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        yield base


@pytest.fixture
def page(tmp_path: Path) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except sync_api.Error as error:  # a broken install is a skip, not a failure
            pytest.skip(f"Chromium did not start: {str(error).splitlines()[0]}")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def test_click_from_an_article_to_its_next_slot(
    base_url: str, page: sync_api.Page, tmp_path: Path
) -> None:
    page.goto(f"{base_url}/#/article/{quote('election-1', safe='')}")
    title = page.locator("#article-title")
    sync_api.expect(title).to_have_attribute("data-id", "election-1")
    sync_api.expect(page.locator("#related-list li")).not_to_have_count(0)

    next_link = page.locator("#slot-next .slot-link")
    next_id = next_link.get_attribute("data-id")
    assert next_id and next_id != "election-1"
    expected = httpx.get(f"{base_url}/articles/{quote(next_id, safe='')}").json()
    slots = httpx.get(f"{base_url}/articles/election-1/slots").json()
    assert slots["next"]["id"] == next_id

    next_link.click()

    sync_api.expect(title).to_have_attribute("data-id", next_id)
    sync_api.expect(title).to_have_text(expected["title"])
    assert page.url.endswith(f"#/article/{quote(next_id, safe='')}")
    sync_api.expect(page.locator("#article-body p").first).to_contain_text(
        expected["body"].split()[0]
    )
    # The slot that brought us here is now the new article's previous slot, or another
    # earlier story: either way the page shows a slot for it.
    sync_api.expect(page.locator("#slot-previous .slot-link")).not_to_have_text("")
    page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)


def test_search_box_opens_an_article(base_url: str, page: sync_api.Page) -> None:
    page.goto(base_url)
    sync_api.expect(page.locator("#article-title")).not_to_have_text("")
    page.fill("#search-input", "cup report 3")
    result = page.locator("#search-results a").first
    sync_api.expect(result).to_contain_text("Cup report 3")
    result.click()
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", "cup-3")


def test_an_awkward_id_opens(base_url: str, page: sync_api.Page) -> None:
    article_id = "50% off? #deal + more"
    page.goto(f"{base_url}/#/article/{quote(article_id, safe='')}")
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", article_id)


def test_summary_box_and_why_of_each_item(base_url: str, page: sync_api.Page) -> None:
    page.goto(f"{base_url}/#/article/{quote('libya-2', safe='')}")
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", "libya-2")
    summary = page.locator("#summary-list li")
    sync_api.expect(summary).to_have_count(0)
    expected = httpx.get(f"{base_url}/articles/libya-2/summary").json()["sentences"]
    assert expected

    page.click("#summary-button")

    sync_api.expect(summary).to_have_text(expected)
    sync_api.expect(page.locator("#summary-button")).to_be_hidden()
    # Each slot and related item says why it was picked, as the API explains it.
    slots = httpx.get(f"{base_url}/articles/libya-2/slots?explain=true").json()
    sync_api.expect(page.locator("#slot-previous .slot-why")).to_have_text(slots["previous"]["why"])
    assert "earlier coverage" in slots["previous"]["why"]
    url = f"{base_url}/articles/libya-2/related?k=6&explain=true&exclude_slots=true"
    related = httpx.get(url).json()  # the page leaves the slots out of the list
    sync_api.expect(page.locator("#related-list .related-why")).to_have_text(
        [item["why"] for item in related["related"]]
    )
    # Another article starts with the summary folded again.
    page.locator("#slot-next .slot-link").click()
    sync_api.expect(page.locator("#article-title")).not_to_have_attribute("data-id", "libya-2")
    sync_api.expect(page.locator("#summary-button")).to_be_visible()
    sync_api.expect(summary).to_have_count(0)


def test_docs_render_their_operations_offline(base_url: str, page: sync_api.Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/docs")
    operations = page.locator(".opblock")
    sync_api.expect(operations.first).to_be_visible()
    paths = httpx.get(f"{base_url}/openapi.json").json()["paths"]
    # Swagger UI shows an operation once under each of its tags.
    count = sum(
        max(1, len(operation.get("tags", [])))
        for methods in paths.values()
        for operation in methods.values()
    )
    sync_api.expect(operations).to_have_count(count)
    sync_api.expect(
        page.locator(".opblock-summary-path", has_text="/articles/{article_id}/slots")
    ).to_be_visible()
    # Script, styles, spec and favicon all from this service: nothing from another host.
    page.wait_for_load_state("networkidle")
    # Headless Chromium fetches no favicon: check where the page points it instead.
    assert page.locator("link[rel~='icon']").get_attribute("href") == "/favicon.ico"
    assert {f"{base_url}/docs/assets/swagger-ui-bundle.js", f"{base_url}/openapi.json"} <= set(
        requested
    )
    assert requested and all(url.startswith(f"{base_url}/") for url in requested), requested
    assert errors == []
