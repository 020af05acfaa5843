// Conversation trees in the page: the `‹ 2/3 ›` switch on messages with siblings, and editing a
// user message in place. Switching sends `branch.select`; the server answers every tab with a
// snapshot, so all of them show the chosen branch at once. Editing sends `message.edit`.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function action(name, label, text, target) {
  const node = el("button", `msg-action msg-action-${name}`, text);
  node.type = "button";
  node.dataset.action = name;
  node.setAttribute("aria-label", label);
  if (target) node.dataset.target = target;
  return node;
}

/** The controls under a message: `‹ i/n ›` when it has siblings, and Edit on the user's own. */
export function branchControls(message) {
  const box = el("div", "message-branch");
  const ids = message.sibling_ids || [message.id];
  const count = message.sibling_count || ids.length || 1;
  const index = message.sibling_index || 0;
  if (count > 1) {
    const prev = action("branch-select", "Previous version", "‹", ids[index - 1]);
    const next = action("branch-select", "Next version", "›", ids[index + 1]);
    prev.disabled = index === 0;
    next.disabled = index >= count - 1;
    box.append(prev, el("span", "branch-position", `${index + 1}/${count}`), next);
  }
  if (message.role === "user" && message.status !== "pending") box.append(action("edit", "Edit this message", "Edit"));
  return box.childElementCount ? box : null;
}

/** Replace a user message's text with an editor; `onSave(text)` is called with the new text. */
export function openEditor(item, message, onSave) {
  if (item.querySelector(".message-editor")) return;
  const form = el("form", "message-editor");
  const input = el("textarea", "message-editor-input");
  input.value = message.content;
  input.setAttribute("aria-label", "Edit your message");
  const save = el("button", "btn btn-primary btn-small", "Save and send");
  save.type = "submit";
  const cancel = el("button", "btn btn-ghost btn-small", "Cancel");
  cancel.type = "button";
  const close = () => {
    form.remove();
    item.classList.remove("is-editing");
  };
  cancel.addEventListener("click", close);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    close();
    onSave(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      close();
    }
  });
  form.append(input, el("div", "message-editor-actions"));
  form.lastChild.append(cancel, save);
  item.classList.add("is-editing");
  item.append(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}
