// Sidebar search over titles and messages (GET /api/search/). While a query is typed, its
// results take the conversation list's place; clearing the box (or Escape) brings the list back.
// Keyboard: ArrowDown from the box enters the results, arrows and Home/End move between them,
// Enter opens one, Escape goes back to the box. Opening is the app's job (onOpen).

import * as api from "./api.js";
import DOMPurify from "../vendor/purify.es.mjs";
import { announce } from "./ui.js";

const SEARCH_DELAY = 250; // ms of quiet typing before searching
const ROLE_WORDS = { user: "You", assistant: "Parley", system: "System" };
// The server escapes snippets and marks matches with <mark>; the page trusts nothing else either.
const SNIPPET_CONFIG = { ALLOWED_TAGS: ["mark"], ALLOWED_ATTR: [] };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class SearchPanel {
  constructor({ input, panel, list, status, nav, onOpen }) {
    Object.assign(this, { input, panel, list, status, nav, onOpen });
    this.timer = 0;
    this.token = 0; // only the latest search's answer is shown
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(input.value.trim()), SEARCH_DELAY);
    });
    input.addEventListener("keydown", (event) => this.onInputKey(event));
    list.addEventListener("keydown", (event) => this.onListKey(event));
    list.addEventListener("click", (event) => this.onClick(event));
  }

  async run(query) {
    const token = ++this.token;
    if (!query) return this.close();
    try {
      const { results } = await api.search(query);
      if (token === this.token) this.show(results);
    } catch (error) {
      if (token === this.token) this.show([], error.message);
    }
  }

  show(results, problem = "") {
    this.nav.hidden = true;
    this.panel.hidden = false;
    this.list.replaceChildren(...results.map((result) => this.item(result)));
    const count = `${results.length} result${results.length === 1 ? "" : "s"}`;
    this.status.textContent = problem || (results.length ? count : "No chats or messages match.");
    announce(this.status.textContent);
  }

  close() {
    this.token++;
    this.panel.hidden = true;
    this.nav.hidden = false;
    this.list.replaceChildren();
  }

  clear() {
    clearTimeout(this.timer);
    this.input.value = "";
    this.close();
  }

  item(result) {
    const li = el("li", "search-item");
    const link = el("a", "search-hit");
    link.href = result.url;
    link.dataset.conversation = result.conversation_id;
    if (result.message_id) link.dataset.message = result.message_id;
    const head = el("span", "search-hit-head");
    head.append(
      el("span", "search-hit-title", result.conversation_title || "Untitled"),
      ...(result.archived ? [el("span", "search-hit-archived", "Archived")] : []),
      el("span", "search-hit-role", result.message_id ? ROLE_WORDS[result.role] || result.role : "Title"),
    );
    const snippet = el("span", "search-hit-snippet");
    snippet.append(DOMPurify.sanitize(result.snippet, { ...SNIPPET_CONFIG, RETURN_DOM_FRAGMENT: true }));
    link.append(head, snippet);
    li.append(link);
    return li;
  }

  links() {
    return [...this.list.querySelectorAll(".search-hit")];
  }

  onClick(event) {
    const link = event.target.closest(".search-hit");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    this.onOpen(link.dataset.conversation, link.dataset.message || null);
  }

  onInputKey(event) {
    if (event.key === "ArrowDown" && !this.panel.hidden && this.links().length) {
      event.preventDefault();
      this.links()[0].focus();
    } else if (event.key === "Escape" && this.input.value) {
      event.preventDefault(); // handled: the page's own Escape (stop a reply) is not meant
      this.clear();
    }
  }

  onListKey(event) {
    const links = this.links();
    const index = links.indexOf(document.activeElement);
    const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: links.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      if (moves[event.key] < 0) this.input.focus();
      else links[Math.min(moves[event.key], links.length - 1)].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.input.focus();
    }
  }
}
