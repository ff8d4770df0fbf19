// The demo page: hash routing (#/article/<percent-encoded id>), four API calls per article
// (related and slots with explain=true, so each item says why it was picked), and a fifth
// for the summary when the reader asks for it.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

async function api(path) {
  const reply = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    const detail = typeof body.detail === "string" ? body.detail : reply.statusText;
    throw new Error(detail);
  }
  return body;
}

function articleHref(id) {
  return "#/article/" + enc(id);
}

function formatDate(published) {
  if (!published) return "";
  // A bare date is a whole day in UTC; show it without shifting to the local zone.
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(published);
  const moment = new Date(bare ? published + "T00:00:00Z" : published);
  if (Number.isNaN(moment.getTime())) return published;
  return moment.toLocaleDateString("en-GB", {
    day: "numeric", month: "long", year: "numeric", timeZone: bare ? "UTC" : undefined,
  });
}

function setStatus(text) {
  $("status").textContent = text;
  $("status").hidden = !text;
  $("story-content").hidden = Boolean(text);
}

function renderBody(text) {
  const container = $("article-body");
  container.replaceChildren();
  for (const paragraph of (text || "").split(/\n\s*\n|\n/)) {
    if (!paragraph.trim()) continue;
    const p = document.createElement("p");
    p.textContent = paragraph.trim();
    container.append(p);
  }
}

function renderTopics(topics) {
  // The API's topic rows: the primary first; a primary below the threshold is shown muted.
  const list = $("article-topics");
  list.replaceChildren();
  for (const topic of topics) {
    const item = document.createElement("li");
    item.textContent = topic.label.replace(/-/g, " ");
    if (topic.confident === false) {
      item.classList.add("unsure");
      item.title = "Best guess: no topic scored above the threshold";
    }
    list.append(item);
  }
}

function renderSlot(slotId, item) {
  const slot = $(slotId);
  const link = slot.querySelector(".slot-link");
  const meta = slot.querySelector(".slot-meta");
  const why = slot.querySelector(".slot-why");
  slot.classList.toggle("empty", !item);
  if (!item) {
    link.textContent = "No other article";
    link.removeAttribute("href");
    link.removeAttribute("data-id");
    meta.textContent = "";
    why.textContent = "";
    return;
  }
  link.textContent = item.title;
  link.href = articleHref(item.id);
  link.dataset.id = item.id;
  meta.textContent = [item.source, formatDate(item.published)].filter(Boolean).join(" · ");
  why.textContent = item.why || "";
}

function renderRelated(items) {
  const list = $("related-list");
  list.replaceChildren();
  for (const item of items) {
    const entry = document.createElement("li");
    const link = document.createElement("a");
    link.href = articleHref(item.id);
    link.dataset.id = item.id;
    link.textContent = item.title;
    const meta = document.createElement("span");
    meta.className = "related-meta";
    meta.textContent = [item.source, formatDate(item.published)].filter(Boolean).join(" · ");
    const why = document.createElement("span");
    why.className = "related-why why";
    why.textContent = item.why || "";
    entry.append(link, meta, why);
    list.append(entry);
  }
  if (!items.length) {
    const entry = document.createElement("li");
    entry.textContent = "No related stories yet.";
    list.append(entry);
  }
}

// -- summary box -----------------------------------------------------------------------

function resetSummary() {
  const button = $("summary-button");
  button.hidden = false;
  button.disabled = false;
  $("summary-list").replaceChildren();
  $("summary-list").hidden = true;
  $("summary-status").hidden = true;
}

async function showSummary() {
  const id = document.body.dataset.articleId;
  if (!id) return;
  const button = $("summary-button");
  const status = $("summary-status");
  button.disabled = true;
  status.textContent = "Summarising…";
  status.hidden = false;
  try {
    const found = await api("/articles/" + enc(id) + "/summary?sentences=3");
    if (document.body.dataset.articleId !== id) return; // the reader moved on meanwhile
    const list = $("summary-list");
    list.replaceChildren();
    for (const sentence of found.sentences) {
      const item = document.createElement("li");
      item.textContent = sentence;
      list.append(item);
    }
    list.hidden = !found.sentences.length;
    button.hidden = true;
    status.textContent = found.sentences.length
      ? "Summary: the article's most central sentences, as written."
      : "This article has no text to summarise.";
  } catch (error) {
    button.disabled = false;
    status.textContent = "No summary: " + error.message;
  }
}

async function show(id) {
  setStatus("Loading…");
  try {
    const path = "/articles/" + enc(id);
    const [article, topics, slots, related] = await Promise.all([
      api(path),
      api(path + "/topics").catch(() => ({ topics: [] })),
      api(path + "/slots?explain=true"),
      api(path + "/related?k=6&explain=true"),
    ]);
    document.title = article.title + " · The Related Desk";
    $("article-title").textContent = article.title;
    $("article-title").dataset.id = article.id;
    $("article-source").textContent = article.source || "";
    $("article-date").textContent = formatDate(article.published);
    $("article-date").dateTime = article.published || "";
    renderTopics(topics.topics);
    renderBody(article.body);
    resetSummary();
    renderSlot("slot-previous", slots.previous);
    renderSlot("slot-next", slots.next);
    renderRelated(related.related);
    setStatus("");
    document.body.dataset.articleId = article.id;
    window.scrollTo(0, 0);
  } catch (error) {
    setStatus("Could not open this article: " + error.message);
  }
}

async function showNewest() {
  try {
    const found = await api("/articles?limit=1");
    if (found.articles.length) {
      location.replace(articleHref(found.articles[0].id));
    } else {
      setStatus("The index is empty: add articles with `newsrec index FILE`.");
    }
  } catch (error) {
    setStatus("The service is not ready: " + error.message);
  }
}

function route() {
  const match = location.hash.match(/^#\/article\/(.+)$/);
  if (match) {
    show(decodeURIComponent(match[1]));
  } else {
    showNewest();
  }
}

// -- search box ------------------------------------------------------------------------

let searchTimer = null;

async function search(query) {
  const results = $("search-results");
  if (!query.trim()) {
    results.hidden = true;
    return;
  }
  const found = await api("/articles?limit=8&q=" + enc(query)).catch(() => ({ articles: [] }));
  results.replaceChildren();
  for (const item of found.articles) {
    const entry = document.createElement("li");
    const link = document.createElement("a");
    link.href = articleHref(item.id);
    link.textContent = item.title;
    const meta = document.createElement("span");
    meta.textContent = formatDate(item.published);
    link.append(meta);
    entry.append(link);
    results.append(entry);
  }
  if (!found.articles.length) {
    const entry = document.createElement("li");
    entry.className = "no-results";
    entry.textContent = "No headline matches.";
    results.append(entry);
  }
  results.hidden = false;
}

function setUpSearch() {
  const input = $("search-input");
  const results = $("search-results");
  input.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(input.value), 150);
  });
  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await search(input.value);
    const first = results.querySelector("a");
    if (first) first.click();
  });
  results.addEventListener("click", (event) => {
    if (event.target.closest("a")) {
      results.hidden = true;
      input.value = "";
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#search-form")) results.hidden = true;
  });
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  setUpSearch();
  $("summary-button").addEventListener("click", showSummary);
  route();
});
