// The demo page: hash routing (#/article/<percent-encoded id>, #/stories), five API calls
// per article (related and slots with explain=true, so each item says why it was picked; the
// related list leaves the slots' articles out; the article's story for its timeline), and a
// sixth for the summary when the reader asks for it.
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

// A slot says what it is: the story's nearest article on its side of the date, or (when the
// story has none there) a related one; with neither, no slot at all rather than filler.
const SLOT_LABELS = {
  "slot-previous": { story: "\u2190 Earlier in this story", related: "\u2190 Related, earlier" },
  "slot-next": { story: "Later in this story \u2192", related: "Related, later \u2192" },
};

function renderSlot(slotId, item) {
  const slot = $(slotId);
  const link = slot.querySelector(".slot-link");
  const meta = slot.querySelector(".slot-meta");
  const why = slot.querySelector(".slot-why");
  slot.hidden = !item;
  if (!item) {
    link.removeAttribute("href");
    link.removeAttribute("data-id");
    return;
  }
  slot.querySelector(".slot-label").textContent = SLOT_LABELS[slotId][item.kind || "related"];
  slot.dataset.kind = item.kind || "related";
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

function renderTimeline(story, currentId) {
  // "More on this story": every article of the story in time order, this one marked.
  const section = $("story-timeline");
  const list = $("timeline-list");
  list.replaceChildren();
  section.hidden = !story || story.articles.length < 2;
  if (section.hidden) return;
  for (const item of story.articles) {
    const entry = document.createElement("li");
    const when = document.createElement("time");
    when.textContent = formatDate(item.published) || "Undated";
    when.dateTime = item.published || "";
    const title = document.createElement(item.id === currentId ? "strong" : "a");
    title.textContent = item.title;
    if (item.id === currentId) {
      entry.classList.add("current");
    } else {
      title.href = articleHref(item.id);
      title.dataset.id = item.id;
    }
    const source = document.createElement("span");
    source.className = "timeline-source";
    source.textContent = item.source || "";
    entry.append(when, title, source);
    list.append(entry);
  }
}

async function showStories() {
  setStatus("");
  $("story").hidden = true;
  document.querySelector(".sidebar").hidden = true;
  $("stories-index").hidden = false;
  document.title = "Stories · The Related Desk";
  const list = $("stories-list");
  list.replaceChildren();
  try {
    const found = await api("/stories?min_size=2&limit=30");
    for (const story of found.stories) {
      const latest = story.articles.filter((a) => a.published).pop() || story.articles[0];
      const entry = document.createElement("li");
      const link = document.createElement("a");
      link.href = articleHref(latest.id);
      link.dataset.id = latest.id;
      link.textContent = latest.title;
      const meta = document.createElement("span");
      meta.className = "stories-meta";
      const first = story.articles.find((a) => a.published);
      meta.textContent = story.articles.length + " articles" +
        (first ? " · " + formatDate(first.published) + " to " + formatDate(latest.published) : "");
      entry.append(link, meta);
      list.append(entry);
    }
    if (!found.stories.length) {
      const entry = document.createElement("li");
      entry.textContent = "No story has more than one article yet.";
      list.append(entry);
    }
  } catch (error) {
    list.textContent = "Could not list the stories: " + error.message;
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
    const [article, topics, slots, related, story] = await Promise.all([
      api(path),
      api(path + "/topics").catch(() => ({ topics: [] })),
      api(path + "/slots?explain=true"),
      api(path + "/related?k=6&explain=true&exclude_slots=true"),
      api(path + "/story").catch(() => null),
    ]);
    $("stories-index").hidden = true;
    $("story").hidden = false;
    document.querySelector(".sidebar").hidden = false;
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
    renderTimeline(story, article.id);
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
  if (location.hash === "#/stories") {
    showStories();
  } else if (match) {
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
