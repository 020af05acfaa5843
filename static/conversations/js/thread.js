// The message list. Patches only the messages that changed; a streaming reply is re-rendered
// at most once per animation frame, and only its changed markdown blocks are rebuilt.

import { branchControls } from "./branches.js";
import { renderInto } from "./render.js";
import { hasToolParts, leaveParts, renderParts, renderUserMessage } from "./parts.js";

const FOLLOW_SLACK = 48; // px from the bottom that still counts as "at the bottom"

const STATUS_NOTES = {
  cancelled: "Stopped",
  interrupted: "Interrupted",
  failed: "Failed",
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(action, label, text) {
  const node = el("button", `msg-action msg-action-${action}`, text);
  node.type = "button";
  node.dataset.action = action;
  node.setAttribute("aria-label", label);
  return node;
}

export class Thread {
  constructor({ scroller, list, empty, jump }) {
    this.scroller = scroller;
    this.list = list;
    this.empty = empty;
    this.jump = jump;
    this.nodes = new Map(); // message id -> <li>
    this.dirty = new Set();
    this.frame = 0;
    this.follow = true;
    this.conversation = null;
    scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    jump.addEventListener("click", () => this.scrollToBottom(true));
  }

  atBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight <= FOLLOW_SLACK;
  }

  onScroll() {
    this.follow = this.atBottom();
    this.jump.hidden = this.follow;
  }

  scrollToBottom(smooth = false) {
    this.follow = true;
    this.jump.hidden = true;
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth ? "smooth" : "auto" });
  }

  /** Rebuild everything (a snapshot or a different conversation). */
  reset(conversation) {
    this.conversation = conversation;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.dirty.clear();
    this.nodes.clear();
    this.list.replaceChildren();
    for (const message of conversation.messages) this.list.append(this.build(message));
    this.refreshChrome();
    this.scrollToBottom();
  }

  /** Apply the changes reported by Conversation.apply. */
  patch(changes) {
    const conversation = this.conversation;
    for (const id of changes.removed || []) {
      this.nodes.get(id)?.remove();
      this.nodes.delete(id);
      this.dirty.delete(id);
    }
    for (const id of changes.added || []) {
      const message = conversation.get(id);
      if (!message || this.nodes.has(id)) continue;
      const index = conversation.messages.indexOf(message);
      const next = conversation.messages.slice(index + 1).map((m) => this.nodes.get(m.id)).find(Boolean);
      this.list.insertBefore(this.build(message), next || null);
    }
    for (const id of changes.updated || []) {
      if (changes.delta) this.schedule(id);
      else this.update(id);
    }
    this.refreshChrome();
    if (this.follow && !changes.delta) this.scrollToBottom();
  }

  /** Scroll to a message and mark it (a search result opened); false when it is not shown. */
  reveal(id) {
    const item = this.nodes.get(id);
    if (!item) return false;
    for (const node of this.list.querySelectorAll(".is-found")) node.classList.remove("is-found");
    item.classList.add("is-found");
    item.tabIndex = -1;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    this.follow = this.atBottom();
    this.jump.hidden = this.follow;
    return true;
  }

  add(message) {
    this.list.append(this.build(message));
    this.refreshChrome();
    this.scrollToBottom();
  }

  remove(id) {
    this.nodes.get(id)?.remove();
    this.nodes.delete(id);
    this.refreshChrome();
  }

  schedule(id) {
    this.dirty.add(id);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    for (const id of this.dirty) this.renderBody(id);
    this.dirty.clear();
    if (this.follow) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  build(message) {
    const item = el("li", "message");
    item.dataset.id = message.id;
    item.dataset.role = message.role;
    const body = el("div", "message-body");
    if (message.role === "assistant") {
      const avatar = el("div", "message-avatar");
      avatar.setAttribute("aria-hidden", "true");
      const column = el("div", "message-column");
      const label = el("h3", "visually-hidden", "Parley said:");
      body.classList.add("markdown");
      column.append(label, body, el("div", "message-foot"));
      item.append(avatar, column);
    } else {
      item.append(el("h3", "visually-hidden", "You said:"), body);
    }
    this.nodes.set(message.id, item);
    this.update(message.id, item);
    return item;
  }

  /** Status, classes and body of one message, right now. */
  update(id, item = this.nodes.get(id)) {
    const message = this.conversation.get(id);
    if (!item || !message) return;
    this.dirty.delete(id);
    item.dataset.status = message.status;
    this.renderBody(id, item);
    if (message.role === "assistant") this.renderFoot(message, item);
    else this.renderBranch(message, item, item);
  }

  /** `‹ i/n ›` and Edit, rebuilt whenever the message changes. */
  renderBranch(message, item, into) {
    item.querySelector(".message-branch")?.remove();
    const controls = branchControls(message);
    if (controls) into.append(controls);
  }

  renderBody(id, item = this.nodes.get(id)) {
    const message = this.conversation.get(id);
    if (!item || !message) return;
    const body = item.querySelector(".message-body");
    if (message.role !== "assistant") {
      renderUserMessage(body, message);
      return;
    }
    if (hasToolParts(message)) {
      renderParts(body, message);
    } else {
      leaveParts(body);
      renderInto(body, message.content);
    }
    const waiting = message.status === "streaming" && !message.content && !hasToolParts(message);
    item.classList.toggle("is-waiting", waiting);
  }

  renderFoot(message, item) {
    const foot = item.querySelector(".message-foot");
    foot.replaceChildren();
    if (message.status === "streaming") return;
    if (STATUS_NOTES[message.status]) {
      const note = el("span", `status-note status-${message.status}`, STATUS_NOTES[message.status]);
      foot.append(note);
    }
    if (message.error) {
      const error = el("p", "message-error", message.error);
      error.setAttribute("role", "note");
      foot.append(error);
    }
    if (message.model) foot.append(el("span", "message-model", message.model));
    const actions = el("div", "message-actions");
    if (message.content) actions.append(button("copy-message", "Copy reply", "Copy"));
    if (message.status === "interrupted" && message.content && this.conversation.lastAssistant === message) {
      actions.append(button("continue", "Continue this reply from where it stopped", "Continue"));
    }
    if (message.status === "failed" || message.status === "interrupted") {
      actions.append(button("retry", "Retry this reply", "Retry"));
    } else if (this.conversation.lastAssistant === message) {
      actions.append(button("regenerate", "Regenerate this reply", "Regenerate"));
    }
    foot.append(actions);
    this.renderBranch(message, item, foot);
  }

  /** Regenerate belongs to the last reply only; empty state only when there is nothing. */
  refreshChrome() {
    const conversation = this.conversation;
    this.empty.hidden = Boolean(conversation && conversation.messages.length);
    if (!conversation) return;
    const last = conversation.lastAssistant;
    for (const node of this.list.querySelectorAll(".msg-action-regenerate")) {
      if (!last || node.closest(".message").dataset.id !== last.id) node.remove();
    }
    if (last && last.status !== "streaming") {
      const item = this.nodes.get(last.id);
      if (item && !item.querySelector(".msg-action-regenerate, .msg-action-retry")) this.renderFoot(last, item);
    }
  }
}
