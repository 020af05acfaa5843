// Page-wide keyboard shortcuts. `shortcutFor` names the shortcut a key press means (pure, no DOM
// writes); the app decides what each does, and whether it applied (an Esc with nothing to stop
// keeps its usual meaning). The `?` dialog in chat.html and docs/ui.md list them.
//
// Keys were chosen to leave the browser's own alone: Ctrl/⌘+Shift+O and Ctrl/⌘+K are not
// browser shortcuts a page may not take, and the single keys (`/`, `?`, ↑) act only when no text
// field has the focus (↑ only in the empty message box), so typing is never taken over.

const TYPING = "input, textarea, select, [contenteditable]:not([contenteditable=false])";

/** The shortcut this key press asks for, or null: "newChat", "search", "escape", "editLast", "help". */
export function shortcutFor(event, composerInput) {
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key;
  if (mod && event.shiftKey && !event.altKey && key.toLowerCase() === "o") return "newChat";
  if (mod && !event.shiftKey && !event.altKey && key.toLowerCase() === "k") return "search";
  if (key === "Escape") return "escape";
  if (mod || event.altKey) return null;
  if (key === "ArrowUp" && !event.shiftKey && event.target === composerInput && composerInput.value === "") return "editLast";
  if (event.target instanceof Element && event.target.closest(TYPING)) return null;
  if (key === "/") return "search";
  if (key === "?") return "help";
  return null;
}

/** Run `actions[name](event)` for each shortcut pressed; one that returns true took the key. While a
 * dialog is open, the dialog has the keyboard (Esc closes it). */
export function installShortcuts({ composerInput, actions }) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || document.querySelector("dialog[open]")) return;
    const name = shortcutFor(event, composerInput);
    if (name && actions[name](event)) event.preventDefault();
  });
}
