"""The demo page's story parts in a real headless Chromium: slot labels by kind, no filler,
a related list without the slots' articles, the story timeline and the stories index."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.service.http.test_demo_browser import base_url as base_url  # the fixtures, shared
from tests.service.http.test_demo_browser import page as page
from tests.service.http.test_demo_browser import sync_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # drives Chromium (the demo page)


def _open(page: sync_api.Page, base: str, article_id: str) -> None:
    page.goto(f"{base}/#/article/{quote(article_id, safe='')}")
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", article_id)
    sync_api.expect(page.locator("#related-list li")).not_to_have_count(0)


def test_slots_say_what_they_are_and_the_related_list_does_not_repeat_them(
    base_url: str, page: sync_api.Page
) -> None:
    _open(page, base_url, "flood-2")
    slots = httpx.get(f"{base_url}/articles/flood-2/slots").json()
    assert slots["previous"]["kind"] == slots["next"]["kind"] == "story"
    sync_api.expect(page.locator("#slot-previous .slot-label")).to_contain_text(
        "Earlier in this story"
    )
    sync_api.expect(page.locator("#slot-next .slot-label")).to_contain_text("Later in this story")
    shown = page.locator("#related-list a").evaluate_all("links => links.map(a => a.dataset.id)")
    assert shown and not {slots["previous"]["id"], slots["next"]["id"]} & set(shown)


def test_a_side_without_an_article_shows_no_slot(base_url: str, page: sync_api.Page) -> None:
    # flood-1 is the first of its story, and the corpus's earliest article: nothing earlier.
    _open(page, base_url, "flood-1")
    assert httpx.get(f"{base_url}/articles/flood-1/slots").json()["previous"] is None
    sync_api.expect(page.locator("#slot-previous")).to_be_hidden()
    sync_api.expect(page.locator("#slot-next")).to_be_visible()


def test_more_on_this_story_lists_the_story_in_time_order(
    base_url: str, page: sync_api.Page
) -> None:
    _open(page, base_url, "cup-2")
    story = httpx.get(f"{base_url}/articles/cup-2/story").json()
    entries = page.locator("#timeline-list li")
    sync_api.expect(entries).to_have_count(len(story["articles"]))
    sync_api.expect(page.locator("#timeline-list li.current")).to_contain_text("Cup report 2")
    page.locator("#timeline-list a", has_text="Cup report 3").click()
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", "cup-3")


def test_the_stories_index_opens_a_story_on_its_latest_article(
    base_url: str, page: sync_api.Page
) -> None:
    page.goto(f"{base_url}/#/stories")
    listed = page.locator("#stories-list li a")
    stories = httpx.get(f"{base_url}/stories", params={"min_size": 2, "limit": 30}).json()
    sync_api.expect(listed).to_have_count(len(stories["stories"]))
    first = stories["stories"][0]
    latest = [a for a in first["articles"] if a["published"]][-1]
    listed.first.click()
    sync_api.expect(page.locator("#article-title")).to_have_attribute("data-id", latest["id"])
