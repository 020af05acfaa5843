// The conversation list: pinned first, then newest; load more, rename in place, delete after
// confirmation, and a menu to pin, archive or export. A toggle swaps in the archived chats.
// Navigation itself is the app's job (onOpen); searching is search.js's.

import * as api from "./api.js";
import { conversationItem } from "./conversation_item.js";
import { toggleMenu } from "./conversation_menu.js";
import { announce, confirmDialog, download, toast } from "./ui.js";

export class Sidebar {
  constructor({ list, empty, more, archivedToggle, heading, onOpen, onDeleted }) {
    Object.assign(this, { list, empty, more, archivedToggle, heading, onOpen, onDeleted });
    this.archived = false; // showing the archived chats instead of the others
    this.activeId = null;
    this.nextUrl = null;
    this.loadToken = 0;
    this.deletedHere = new Set(); // ids this window deleted, so their broadcast is not news
    more.addEventListener("click", () => this.loadMore());
    list.addEventListener("click", (event) => this.onClick(event));
    archivedToggle.addEventListener("click", () => this.showArchived(!this.archived));
  }

  /** Swap the list between the archived chats and the others. */
  showArchived(archived) {
    this.archived = archived;
    this.archivedToggle.setAttribute("aria-pressed", String(archived));
    this.archivedToggle.textContent = archived ? "Back to chats" : "Archived";
    this.heading.textContent = archived ? "Archived chats" : "Chats";
    this.list.replaceChildren();
    this.load();
  }

  async load() {
    const token = ++this.loadToken;
    try {
      const page = await api.listConversations({ archived: this.archived });
      if (token !== this.loadToken) return;
      this.list.replaceChildren(...page.results.map((c) => conversationItem(c)));
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
      this.list.append(...page.results.filter((c) => !known.has(c.id)).map((c) => conversationItem(c)));
      this.nextUrl = page.next;
      this.refresh();
    } catch (error) {
      toast(`Could not load more conversations: ${error.message}`);
    }
  }

  refresh() {
    this.more.hidden = !this.nextUrl;
    this.empty.hidden = this.list.children.length > 0;
    this.empty.textContent = this.archived ? "No archived chats." : "No conversations yet.";
    for (const li of this.list.children) {
      const active = li.dataset.id === this.activeId;
      li.classList.toggle("is-active", active);
      const link = li.querySelector(".conv-link");
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** The menu's choices for this chat, as it stands. */
  menuItems(li) {
    const pinned = li.dataset.pinned === "true";
    const archived = li.dataset.archived === "true";
    return [
      { action: pinned ? "unpin" : "pin", label: pinned ? "Unpin" : "Pin to top" },
      { action: archived ? "unarchive" : "archive", label: archived ? "Unarchive" : "Archive" },
      { action: "export-markdown", label: "Export as Markdown" },
      { action: "export-json", label: "Export as JSON" },
    ];
  }

  /** A pick from a chat's menu: a download, or filing it (pin, archive). */
  pick(id, action) {
    if (action.startsWith("export-")) download(api.exportUrl(id, action.slice("export-".length)));
    else this.file(id, action);
  }

  /** Pin, unpin, archive or unarchive; every tab of the user hears of it (`conversation.updated`). */
  async file(id, action) {
    const fields = { pin: { pinned: true }, unpin: { pinned: false }, archive: { archived: true }, unarchive: { archived: false } }[action];
    try {
      const updated = await api.updateConversation(id, fields);
      this.changed(updated);
      document.dispatchEvent(new CustomEvent("parley:filed", { detail: updated }));
      const words = { pin: "Chat pinned.", unpin: "Chat unpinned.", archive: "Chat archived.", unarchive: "Chat unarchived." };
      announce(words[action]);
      if (action === "archive" || action === "unarchive") toast(words[action], "info");
    } catch (error) {
      toast(`Could not change the chat: ${error.message}`);
    }
  }

  /** A chat's fields changed (here, in another tab, or through the API): show it where it now belongs. */
  changed(conversation) {
    const li = this.find(conversation.id);
    if (li?.classList.contains("is-editing")) return;
    const belongs = Boolean(conversation.archived) === this.archived;
    if (!belongs) {
      if (li) li.remove();
      this.refresh();
      return;
    }
    const fresh = conversationItem(conversation);
    if (li) li.replaceWith(fresh);
    this.place(fresh);
    this.refresh();
  }

  /** Put an item where the server's order would: pinned first, then by last activity. */
  place(li) {
    li.remove();
    const rank = (node) => [node.dataset.pinned === "true" ? 1 : 0, Number(node.dataset.updated)];
    const [pinned, updated] = rank(li);
    const after = [...this.list.children].find((node) => {
      const [otherPinned, otherUpdated] = rank(node);
      return otherPinned < pinned || (otherPinned === pinned && otherUpdated < updated);
    });
    this.list.insertBefore(li, after || null);
  }

  find(id) {
    return this.list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  }

  onClick(event) {
    const li = event.target.closest(".conv");
    if (!li) return;
    const button = event.target.closest("[data-action]");
    const action = button?.dataset.action;
    if (action === "rename") this.rename(li);
    else if (action === "delete") this.remove(li);
    else if (action === "menu") toggleMenu(button, this.menuItems(li), (picked) => this.pick(li.dataset.id, picked));
    else if (event.target.closest(".conv-link") && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      this.onOpen(li.dataset.id);
    }
  }

  setActive(id) {
    this.activeId = id;
    this.refresh();
  }

  /** Put a conversation at the top of its group, pinned or not (new, or just written to), or
   * update its title; one that does not belong in the list shown (archived or not) stays out. */
  upsert(conversation, { moveToTop = false } = {}) {
    if (Boolean(conversation.archived) !== this.archived) return;
    let li = this.find(conversation.id);
    if (li) {
      const link = li.querySelector(".conv-link");
      if (link && conversation.title && link.textContent !== conversation.title && !li.classList.contains("is-editing")) {
        li.replaceWith((li = conversationItem(conversation)));
      }
    } else {
      li = conversationItem(conversation);
      moveToTop = true;
    }
    if (moveToTop) {
      li.dataset.updated = String(Date.now()); // the newest of its group
      this.place(li);
    }
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
