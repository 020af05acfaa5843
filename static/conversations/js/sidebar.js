// The conversation list: newest first, load more, rename in place, delete after confirmation.
// Navigation itself is the app's job (onOpen); searching is search.js's.

import * as api from "./api.js";
import { confirmDialog, toast } from "./ui.js";

export class Sidebar {
  constructor({ list, empty, more, onOpen, onDeleted }) {
    Object.assign(this, { list, empty, more, onOpen, onDeleted });
    this.activeId = null;
    this.nextUrl = null;
    this.loadToken = 0;
    this.deletedHere = new Set(); // ids this window deleted, so their broadcast is not news
    more.addEventListener("click", () => this.loadMore());
    list.addEventListener("click", (event) => this.onClick(event));
  }

  async load() {
    const token = ++this.loadToken;
    try {
      const page = await api.listConversations();
      if (token !== this.loadToken) return;
      this.list.replaceChildren(...page.results.map((c) => this.item(c)));
      this.nextUrl = page.next;
      this.refresh();
    } catch (error) {
      toast(`Could not load conversations: ${error.message}`);
    }
  }

  async loadMore() {
    if (!this.nextUrl) return;
    try {
      const page = await api.listConversations({ url: this.nextUrl });
      const known = new Set([...this.list.children].map((li) => li.dataset.id));
      this.list.append(...page.results.filter((c) => !known.has(c.id)).map((c) => this.item(c)));
      this.nextUrl = page.next;
      this.refresh();
    } catch (error) {
      toast(`Could not load more conversations: ${error.message}`);
    }
  }

  refresh() {
    this.more.hidden = !this.nextUrl;
    this.empty.hidden = this.list.children.length > 0;
    for (const li of this.list.children) {
      const active = li.dataset.id === this.activeId;
      li.classList.toggle("is-active", active);
      const link = li.querySelector(".conv-link");
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  item(conversation) {
    const li = document.createElement("li");
    li.className = "conv";
    li.dataset.id = conversation.id;
    const link = document.createElement("a");
    link.className = "conv-link";
    link.href = `/c/${conversation.id}/`;
    link.textContent = conversation.title || "Untitled";
    link.title = conversation.title || "Untitled";
    const actions = document.createElement("div");
    actions.className = "conv-actions";
    actions.append(
      this.iconButton("rename", `Rename “${conversation.title}”`, "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4"),
      this.iconButton("delete", `Delete “${conversation.title}”`, "M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12"),
    );
    li.append(link, actions);
    return li;
  }

  iconButton(action, label, path) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = `icon-btn icon-btn-small conv-${action}`;
    node.dataset.action = action;
    node.setAttribute("aria-label", label);
    node.title = action === "rename" ? "Rename" : "Delete";
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    node.append(svg);
    return node;
  }

  onClick(event) {
    const li = event.target.closest(".conv");
    if (!li) return;
    const action = event.target.closest("[data-action]")?.dataset.action;
    if (action === "rename") this.rename(li);
    else if (action === "delete") this.remove(li);
    else if (event.target.closest(".conv-link") && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      this.onOpen(li.dataset.id);
    }
  }

  setActive(id) {
    this.activeId = id;
    this.refresh();
  }

  /** Put a conversation at the top (new, or just written to), or update its title. */
  upsert(conversation, { moveToTop = false } = {}) {
    let li = this.list.querySelector(`li[data-id="${CSS.escape(conversation.id)}"]`);
    if (li) {
      const link = li.querySelector(".conv-link");
      if (link && conversation.title && link.textContent !== conversation.title && !li.classList.contains("is-editing")) {
        li.replaceWith((li = this.item(conversation)));
      }
    } else {
      li = this.item(conversation);
      moveToTop = true;
    }
    if (moveToTop && this.list.firstElementChild !== li) this.list.prepend(li);
    this.refresh();
  }

  rename(li) {
    const link = li.querySelector(".conv-link");
    const before = link.textContent;
    const input = document.createElement("input");
    input.type = "text";
    input.className = "conv-title-input";
    input.value = before;
    input.maxLength = 200;
    input.setAttribute("aria-label", "New title");
    li.classList.add("is-editing");
    link.hidden = true;
    li.insertBefore(input, link);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.remove();
      link.hidden = false;
      li.classList.remove("is-editing");
      link.focus();
      if (!save || !title || title === before) return;
      link.textContent = title;
      try {
        const updated = await api.renameConversation(li.dataset.id, title);
        link.textContent = updated.title;
        link.title = updated.title;
        document.dispatchEvent(new CustomEvent("parley:renamed", { detail: updated }));
      } catch (error) {
        link.textContent = before;
        toast(`Could not rename: ${error.message}`);
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      else if (event.key === "Escape") {
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
  }

  /** Drop a conversation deleted in another window, without asking or calling the API. */
  forget(id) {
    const li = this.list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (li) li.remove();
  }

  async remove(li) {
    const title = li.querySelector(".conv-link").textContent;
    const ok = await confirmDialog({
      title: "Delete chat?",
      text: `“${title}” and all its messages will be deleted. This cannot be undone.`,
      confirm: "Delete",
    });
    if (!ok) return;
    this.deletedHere.add(li.dataset.id);
    try {
      await api.deleteConversation(li.dataset.id);
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      this.refresh();
      this.onDeleted(li.dataset.id, next);
      toast("Chat deleted.", "info");
    } catch (error) {
      toast(`Could not delete: ${error.message}`);
    }
  }
}
