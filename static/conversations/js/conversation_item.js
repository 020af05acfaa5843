// One chat's row in the sidebar, built from its conversation object: its link, the pin mark, and
// the rename, ⋯ (menu) and delete buttons. Its data-* fields carry what the list orders by.

const ICONS = {
  rename: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  menu: "M5 12h.01M12 12h.01M19 12h.01",
  delete: "M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12",
  pin: "M9 4h6l-1 5 3 3H7l3-3-1-5zM12 12v8",
};

export function conversationItem(conversation) {
  const title = conversation.title || "Untitled";
  const li = document.createElement("li");
  li.className = "conv";
  li.dataset.id = conversation.id;
  li.dataset.pinned = String(Boolean(conversation.pinned));
  li.dataset.archived = String(Boolean(conversation.archived));
  li.dataset.updated = String(Date.parse(conversation.updated_at) || Date.now()); // ms since the epoch
  const link = document.createElement("a");
  link.className = "conv-link";
  link.href = `/c/${conversation.id}/`;
  link.textContent = title;
  link.title = title;
  const menu = iconButton("menu", "More", `More actions for “${conversation.title}”`);
  menu.setAttribute("aria-haspopup", "menu");
  menu.setAttribute("aria-expanded", "false");
  const actions = document.createElement("div");
  actions.className = "conv-actions";
  actions.append(
    iconButton("rename", "Rename", `Rename “${conversation.title}”`),
    menu,
    iconButton("delete", "Delete", `Delete “${conversation.title}”`),
  );
  if (conversation.pinned) li.append(pinMark());
  li.append(link, actions);
  return li;
}

function pinMark() {
  const mark = document.createElement("span");
  mark.className = "conv-pin-mark";
  mark.title = "Pinned";
  mark.setAttribute("role", "img");
  mark.setAttribute("aria-label", "Pinned");
  mark.append(icon(ICONS.pin));
  return mark;
}

function iconButton(action, tip, label) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = `icon-btn icon-btn-small conv-${action}`;
  node.dataset.action = action;
  node.setAttribute("aria-label", label);
  node.title = tip;
  node.append(icon(ICONS[action]));
  return node;
}

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}
