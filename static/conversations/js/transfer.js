// The conversation menu (⋯ in the header): export the open chat as Markdown or JSON, export every
// chat as a zip, import a file. Downloads are plain links the server answers as attachments;
// an import tells the page (`parley:imported`) so the sidebar lists the new chats.

import { importConversations } from "./api.js";
import { toast } from "./ui.js";

const $ = (id) => document.getElementById(id);
const CONVERSATION_PATH = /^\/c\/([0-9a-f-]{36})\/$/;
const config = JSON.parse($("parley-config").textContent);
const button = $("menu-open");
const list = $("menu-list");
const dialog = $("import-dialog");

function openConversationId() {
  return location.pathname.match(CONVERSATION_PATH)?.[1] || null;
}

function items() {
  return [...list.querySelectorAll(".menu-item")].filter((item) => !item.closest("[hidden]"));
}

function openMenu() {
  const id = openConversationId();
  for (const node of list.querySelectorAll("[data-needs-conversation]")) node.hidden = !id;
  if (id) {
    $("export-markdown").href = `/api/conversations/${id}/export/?format=markdown`;
    $("export-json").href = `/api/conversations/${id}/export/?format=json`;
  }
  list.hidden = false;
  button.setAttribute("aria-expanded", "true");
  items()[0]?.focus();
}

function closeMenu({ focus = false } = {}) {
  if (list.hidden) return;
  list.hidden = true;
  button.setAttribute("aria-expanded", "false");
  if (focus) button.focus();
}

button.addEventListener("click", () => (list.hidden ? openMenu() : closeMenu()));
list.addEventListener("click", (event) => {
  if (event.target.closest(".menu-item")) closeMenu();
});
list.addEventListener("keydown", (event) => {
  const all = items();
  const at = all.indexOf(document.activeElement);
  if (event.key === "Escape") {
    event.stopPropagation();
    closeMenu({ focus: true });
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    all[(at + step + all.length) % all.length]?.focus();
  }
});
document.addEventListener("click", (event) => {
  if (!event.target.closest("#conversation-menu")) closeMenu();
});

$("import-open").addEventListener("click", () => {
  $("import-error").textContent = "";
  $("import-file").value = "";
  dialog.showModal();
});

$("import-form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "import") return; // Close
  event.preventDefault();
  const file = $("import-file").files[0];
  const error = $("import-error");
  if (!file) {
    error.textContent = "Choose a file to import.";
    return;
  }
  if (file.size > config.importMaxBytes) {
    error.textContent = `This file is larger than ${config.importMaxBytes} bytes, the most an import may hold.`;
    return;
  }
  const submit = $("import-submit");
  submit.disabled = true;
  submit.textContent = "Importing…";
  error.textContent = "";
  try {
    const result = await importConversations(file);
    dialog.close();
    const skipped = result.skipped_messages ? ` (${result.skipped_messages} hidden or tool messages left out)` : "";
    toast(`Imported ${result.imported} chat${result.imported === 1 ? "" : "s"}${skipped}.`, "info");
    document.dispatchEvent(new CustomEvent("parley:imported", { detail: result }));
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    submit.disabled = false;
    submit.textContent = "Import";
  }
});
