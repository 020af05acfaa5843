// The chat page: wires the sidebar, the thread, the composer and one socket per open
// conversation. Follow a message: composer.onSend -> send() -> socket -> onFrame ->
// Conversation.apply (stream.js) -> Thread.patch (thread.js) -> renderInto (render.js).

import * as api from "./api.js";
import { Attachments } from "./attachments.js";
import { openEditor } from "./branches.js";
import { Composer } from "./composer.js";
import { showConnectionState, showLiveSync } from "./connection.js";
import { ModelPicker, SettingsDialog } from "./models.js";
import { setTrustedImageHosts } from "./render.js";
import { SearchPanel } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { installShortcuts } from "./shortcuts.js";
import { ConversationSocket } from "./socket.js";
import { Conversation } from "./stream.js";
import { Thread } from "./thread.js";
import { announce, copyText, toast } from "./ui.js";

const config = JSON.parse(document.getElementById("parley-config").textContent);
setTrustedImageHosts(config.trustedImageHosts);

const $ = (id) => document.getElementById(id);
const TITLE_LENGTH = 60; // characters of the first message used as a new chat's title
const PROBE_AFTER = 2; // failed reconnects before checking whether the session still exists
const UNAVAILABLE_RETRY = 5000; // ms before resending messages the server could not take (same request_id)
const FINISHED_WORDS = {
  complete: "Reply finished.",
  cancelled: "Reply stopped.",
  failed: "Reply failed.",
  interrupted: "Reply interrupted.",
};

const app = {
  id: null, // the open conversation's id, or null for a new chat
  conversation: new Conversation(),
  socket: null,
  listSocket: null, // the conversation list's socket, while no chat is open
  socketState: "idle",
  syncing: false,
  retryTimer: null, // resends messages answered `unavailable`
  target: null, // a message to show once the conversation is in (a search result, `?message=`)
  targetAsked: false, // branch.select was sent for it, because the branch shown did not hold it
};

const thread = new Thread({ scroller: $("thread"), list: $("messages"), empty: $("empty-state"), jump: $("jump") });
const attachments = new Attachments({
  form: $("composer"),
  input: $("composer-input"),
  tray: $("composer-attachments"),
  button: $("attach"),
  picker: $("attach-input"),
  onChange: () => composer.refresh(),
});
const composer = new Composer({
  form: $("composer"),
  input: $("composer-input"),
  send: $("send"),
  stop: $("stop"),
  status: $("composer-status"),
  maxBytes: config.maxMessageBytes || 65536,
  onSend: send,
  onStop: stop,
  attachments,
});
const sidebar = new Sidebar({
  list: $("conversation-list"),
  empty: $("list-empty"),
  more: $("load-more"),
  archivedToggle: $("archived-toggle"),
  heading: $("list-title"),
  onOpen: (id) => {
    closeSidebar();
    open(id, { push: true });
  },
  onDeleted: (id) => {
    if (id === app.id) newChat({ push: true });
  },
});

new SearchPanel({
  input: $("search-input"),
  panel: $("search-results"),
  list: $("search-list"),
  status: $("search-status"),
  nav: $("conversation-nav"),
  onOpen: (id, messageId) => {
    closeSidebar();
    open(id, { push: true, message: messageId });
  },
});

const picker = new ModelPicker({ select: $("model-picker"), onPick: pickModel });
const settings = new SettingsDialog({
  dialog: $("settings-dialog"),
  button: $("settings-open"),
  prompt: $("settings-prompt"),
  temperature: $("settings-temperature"),
  onSave: saveSettings,
});

/** A new chat keeps the pick for its creation; an open one changes at once, for every tab. */
async function pickModel(id) {
  if (!app.id) {
    picker.draft = id;
    picker.show(null);
    return;
  }
  try {
    showConversation(await api.updateConversation(app.id, { model: id }));
  } catch (error) {
    toast(error.message);
    picker.show(app.conversation.info);
  }
}

async function saveSettings(fields) {
  try {
    showConversation(await api.updateConversation(app.id, fields));
    return true;
  } catch (error) {
    toast(error.message);
    return false;
  }
}

/** The header's picker and settings follow the open conversation's own fields. */
function showConversation(conversation) {
  if (app.conversation.info && conversation && conversation.id === app.conversation.info.id) {
    app.conversation.info = conversation;
  }
  picker.show(conversation);
  settings.show(conversation);
  $("archived-chip").hidden = !conversation?.archived;
  $("menu-pin").textContent = conversation?.pinned ? "Unpin" : "Pin to top";
  $("menu-archive").textContent = conversation?.archived ? "Unarchive" : "Archive";
}

function requestId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// --- navigation ---------------------------------------------------------------

function idFromPath(path) {
  const match = path.match(/^\/c\/([0-9a-f-]{36})\/?$/i);
  return match ? match[1] : null;
}

function setTitle(title) {
  $("conversation-title").textContent = title || "New chat";
  document.title = title ? `${title} · Parley` : "Parley";
}

/** Open a conversation; with `message`, at that message, on whichever branch holds it. */
function open(id, { push = false, message = null } = {}) {
  const url = message ? `/c/${id}/?message=${encodeURIComponent(message)}` : `/c/${id}/`;
  if (push && location.pathname + location.search !== url) history.pushState({ id }, "", url);
  app.target = message;
  app.targetAsked = false;
  if (id === app.id && app.socket && app.conversation.loaded) {
    revealTarget();
    return;
  }
  if (app.socket) app.socket.close();
  unwatchList();
  app.id = id;
  app.conversation = new Conversation();
  app.syncing = false;
  thread.reset(app.conversation);
  $("thread").classList.add("is-loading");
  sidebar.setActive(id);
  // `?watch=all`: the owner's other chats' changes come too, so the sidebar stays current.
  app.socket = new ConversationSocket(id, { onFrame, onState, path: `/ws/conversations/${id}/?watch=all` });
  refreshComposer();
  composer.focus();
}

function newChat({ push = false } = {}) {
  if (app.socket) app.socket.close();
  app.socket = null;
  watchList();
  app.id = null;
  app.conversation = new Conversation();
  app.conversation.loaded = true;
  if (push && location.pathname !== "/") history.pushState({ id: null }, "", "/");
  thread.reset(app.conversation);
  $("thread").classList.remove("is-loading");
  sidebar.setActive(null);
  setTitle("");
  picker.draft = null;
  showConversation(null);
  onState("idle");
  composer.focus();
}

window.addEventListener("popstate", () => {
  const id = idFromPath(location.pathname);
  if (id === app.id) return;
  if (id) open(id);
  else newChat();
});

/** With no chat open there is no chat socket: the list's own socket keeps the sidebar current. */
function watchList() {
  if (app.listSocket) return;
  app.listSocket = new ConversationSocket(null, {
    path: "/ws/conversations/",
    onFrame: (frame) => {
      if (frame.type === "conversation.updated") sidebar.changed(frame.conversation);
      else if (frame.type === "conversation.deleted") sidebar.forget(frame.conversation_id);
    },
    onState: (state) => state === "ended" && onState("ended"),
  });
}

function unwatchList() {
  app.listSocket?.close();
  app.listSocket = null;
}

// --- sending ------------------------------------------------------------------

async function send(content) {
  const rid = requestId();
  const files = attachments.ids();
  const pending = app.conversation.addPending(rid, content, attachments.parts(), files);
  thread.add(pending);
  attachments.clear();
  composer.clear();
  refreshComposer();
  if (!app.id) {
    try {
      const title = (content.trim() || pending.parts.find((p) => p.name)?.name || "").split("\n")[0].slice(0, TITLE_LENGTH);
      const created = await api.createConversation(picker.draft === null ? { title } : { title, model: picker.draft });
      const conversation = app.conversation;
      sidebar.upsert(created, { moveToTop: true });
      open(created.id, { push: true });
      app.conversation.pending = conversation.pending; // keep the optimistic message
      app.conversation.messages = [pending];
      thread.reset(app.conversation);
      setTitle(created.title);
      refreshComposer();
    } catch (error) {
      app.conversation.dropPending(rid);
      thread.remove(pending.id);
      composer.restore(content);
      toast(`Could not start a chat: ${error.message}`);
      refreshComposer();
    }
    return; // the snapshot handler sends the queued message once connected
  }
  app.socket.send({ type: "message.send", content, attachments: files, request_id: rid });
}

/** Messages not yet confirmed are (re)sent after every snapshot; request_id makes it idempotent. */
function flushOutbox() {
  for (const [rid, message] of app.conversation.pending) {
    app.socket.send({ type: "message.send", content: message.content, attachments: message.attachments, request_id: rid });
  }
}

function continueReply() {
  if (app.socket && app.socket.send({ type: "message.continue", request_id: requestId() })) {
    composer.setState({ reason: "", generating: true });
  }
}

function stop() {
  if (app.socket) app.socket.send({ type: "generation.stop" });
}

function regenerate() {
  if (app.socket && app.socket.send({ type: "message.regenerate", request_id: requestId() })) {
    composer.setState({ reason: "", generating: true });
  }
}

// --- frames from the server -----------------------------------------------------

function onFrame(frame) {
  if (frame.type === "error") return onError(frame);
  if (frame.type === "connection.status") return showLiveSync(frame.live_sync, frame.detail);
  const changes = app.conversation.apply(frame);
  if (changes.sync) return requestSync();
  if (changes.renamed) return renamedElsewhere(frame.conversation);
  if (changes.deleted) return deletedElsewhere(frame.conversation_id);
  if (changes.other) return sidebar.changed(changes.other);
  if (changes.otherDeleted) return sidebar.forget(changes.otherDeleted);
  if (changes.reset) {
    app.syncing = false;
    $("thread").classList.remove("is-loading");
    thread.reset(app.conversation);
    setTitle(frame.conversation.title);
    sidebar.upsert(frame.conversation);
    showConversation(frame.conversation);
    flushOutbox();
    revealTarget();
  } else {
    thread.patch(changes);
  }
  if (frame.type === "message.created" && frame.message.role === "user" && app.conversation.info) {
    sidebar.upsert(app.conversation.info, { moveToTop: true });
  }
  if (changes.completed) {
    const message = app.conversation.get(changes.completed);
    announce(message.error ? `${FINISHED_WORDS[message.status] || ""} ${message.error}` : FINISHED_WORDS[message.status] || "");
  }
  refreshComposer();
}

/** Scroll to the message asked for; off the branch shown, ask for its branch first (the answer
 * is a snapshot, which comes back here). */
function revealTarget() {
  if (!app.target) return;
  if (thread.reveal(app.target)) {
    app.target = null;
  } else if (!app.targetAsked) {
    app.targetAsked = app.socket.send({ type: "branch.select", message_id: app.target });
  } else {
    toast("That message is no longer in this conversation.", "info");
    app.target = null;
  }
}

function renamedElsewhere(conversation) {
  setTitle(conversation.title);
  sidebar.changed(conversation);
  showConversation(conversation);
}

function deletedElsewhere(id) {
  if (sidebar.deletedHere.has(id) || id !== app.id) return;
  toast("This chat was deleted in another window.", "info");
  sidebar.forget(id);
  newChat({ push: true });
}

function requestSync() {
  if (app.syncing) return;
  app.syncing = app.socket.send({ type: "sync" });
}

function onError(frame) {
  if (frame.code === "unavailable" && app.conversation.pending.has(frame.request_id)) {
    // A service is down: keep the message and send it again later; its request_id makes that safe.
    toast(`${frame.detail} Retrying…`);
    clearTimeout(app.retryTimer);
    app.retryTimer = setTimeout(() => app.socket && flushOutbox(), UNAVAILABLE_RETRY);
    return;
  }
  const pending = frame.request_id ? app.conversation.dropPending(frame.request_id) : null;
  if (pending) {
    thread.remove(pending.id);
    composer.restore(pending.content);
    attachments.restore(pending.parts, pending.attachments); // a refused send loses nothing
  }
  toast(frame.detail || "Something went wrong.");
  if (frame.code === "rate_limited") app.syncing = false; // a refused sync may be asked again later
  if (frame.code === "busy" || frame.code === "not_generating" || frame.code === "nothing_to_regenerate" || frame.code === "nothing_to_continue") requestSync();
  refreshComposer();
}

// --- connection state -------------------------------------------------------------

function onState(state, detail = {}) {
  app.socketState = state;
  showConnectionState(state, detail);
  if (state === "reconnecting" && detail.attempt >= PROBE_AFTER) probeSession();
  refreshComposer();
}

/** A socket refused at the handshake cannot say why; the API can. */
async function probeSession() {
  const id = app.id;
  const response = await fetch(`/api/conversations/${id}/`, { credentials: "same-origin" }).catch(() => null);
  if (!response || id !== app.id) return;
  if (response.status === 401 || response.status === 403) {
    app.socket.close();
    onState("ended");
  } else if (response.status === 404) {
    toast("This conversation no longer exists.");
    newChat({ push: true });
  }
}

function refreshComposer() {
  const c = app.conversation;
  let reason = "";
  if (app.socketState === "ended") reason = "Session ended. Log in again to send messages.";
  else if (app.id && app.socketState !== "open") reason = app.socketState === "reconnecting" ? "Offline: waiting for the connection to come back." : "Connecting…";
  else if (c.pending.size) reason = "Sending…";
  composer.setState({ reason, generating: Boolean(c.streaming) });
}

// --- message actions (delegated) ------------------------------------------------

$("messages").addEventListener("click", async (event) => {
  const target = event.target.closest("[data-action]");
  if (!target) return;
  const action = target.dataset.action;
  if (action === "regenerate" || action === "retry") {
    regenerate();
  } else if (action === "branch-select" && target.dataset.target) {
    app.socket?.send({ type: "branch.select", message_id: target.dataset.target });
  } else if (action === "edit") {
    editMessage(target.closest(".message"));
  } else if (action === "continue") {
    continueReply();
  } else if (action === "copy-code" || action === "copy-message") {
    const text = action === "copy-code"
      ? target.closest(".code-block").querySelector("code").textContent
      : app.conversation.get(target.closest(".message").dataset.id)?.content || "";
    const ok = await copyText(text);
    const before = "Copy";
    target.textContent = ok ? "Copied!" : "Copy failed";
    target.classList.toggle("is-done", ok);
    announce(ok ? "Copied to clipboard." : "Copy failed.");
    setTimeout(() => {
      target.textContent = before;
      target.classList.remove("is-done");
    }, 1600);
  }
});

function editMessage(item) {
  const message = app.conversation.get(item.dataset.id);
  openEditor(item, message, (content) => {
    app.socket?.send({ type: "message.edit", message_id: message.id, content, request_id: requestId() });
  });
}

/** ↑ in the empty message box: edit the last message you sent on the branch shown. */
function editLastMessage() {
  const last = app.conversation.messages.findLast((m) => m.role === "user" && m.status !== "pending");
  const item = last && $("messages").querySelector(`.message[data-id="${CSS.escape(last.id)}"]`);
  if (!item) return false;
  item.scrollIntoView({ block: "nearest" });
  editMessage(item);
  return true;
}

document.addEventListener("parley:renamed", (event) => {
  if (event.detail.id === app.id) setTitle(event.detail.title);
});
document.addEventListener("parley:imported", () => sidebar.load());

document.addEventListener("parley:filed", (event) => {
  if (event.detail.id === app.id) showConversation(event.detail);
});

$("unarchive").addEventListener("click", () => sidebar.file(app.id, "unarchive"));
// The header's conversation menu (transfer.js opens it) files the open chat like the sidebar's does.
$("menu-pin").addEventListener("click", () => sidebar.file(app.id, app.conversation.info?.pinned ? "unpin" : "pin"));
$("menu-archive").addEventListener("click", () => sidebar.file(app.id, app.conversation.info?.archived ? "unarchive" : "archive"));

// --- sidebar on small screens, and shortcuts ----------------------------------------

function openSidebar() {
  $("app").dataset.sidebar = "open";
  $("backdrop").hidden = false;
  $("sidebar-open").setAttribute("aria-expanded", "true");
  $("search-input").focus();
}

function closeSidebar() {
  if ($("app").dataset.sidebar !== "open") return;
  $("app").dataset.sidebar = "closed";
  $("backdrop").hidden = true;
  $("sidebar-open").setAttribute("aria-expanded", "false");
}

$("sidebar-open").addEventListener("click", openSidebar);
$("sidebar-close").addEventListener("click", () => {
  closeSidebar();
  $("sidebar-open").focus();
});
$("backdrop").addEventListener("click", closeSidebar);
$("new-chat").addEventListener("click", (event) => {
  if (event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  closeSidebar();
  newChat({ push: true });
});

function focusSearch() {
  if (window.matchMedia("(max-width: 800px)").matches) openSidebar();
  $("search-input").focus();
  $("search-input").select();
  return true;
}

/** Esc closes the phone's sidebar, else stops the streaming reply; with neither, it does nothing here. */
function escape() {
  if ($("app").dataset.sidebar === "open") {
    closeSidebar();
    $("sidebar-open").focus();
    return true;
  }
  if (!app.conversation.streaming) return false;
  stop();
  return true;
}

function showShortcuts() {
  $("shortcuts-dialog").showModal();
  return true;
}

installShortcuts({
  composerInput: $("composer-input"),
  actions: {
    newChat: () => {
      closeSidebar();
      newChat({ push: true });
      return true;
    },
    search: focusSearch,
    escape,
    editLast: editLastMessage,
    help: showShortcuts,
  },
});
$("shortcuts-open").addEventListener("click", showShortcuts);


// --- start ------------------------------------------------------------------------

sidebar.load();
picker.load();
if (config.conversationId) open(String(config.conversationId), { message: new URLSearchParams(location.search).get("message") });
else newChat();
document.body.classList.add("is-ready");
