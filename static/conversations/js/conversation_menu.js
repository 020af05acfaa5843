// A conversation's menu in the sidebar (the ⋯ button): pin, archive and the like. It only shows
// the choices and reports the one picked (`onPick(action)`); what they do is the sidebar's job.
// Keyboard: the first item takes focus, ↑/↓ move, Esc or Tab closes and returns to the button.

let openMenu = null; // the one menu open on the page, so opening another (or clicking away) closes it

function closeOpenMenu({ refocus = false } = {}) {
  if (!openMenu) return;
  const { node, button } = openMenu;
  openMenu = null;
  if (refocus && button.isConnected) button.focus(); // first: the button hides once nothing in its row has focus
  node.remove();
  button.setAttribute("aria-expanded", "false");
}

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.node.contains(event.target) && !openMenu.button.contains(event.target)) closeOpenMenu();
});

/** Open the menu under `button` with `items` ([{action, label}]); a second click closes it. */
export function toggleMenu(button, items, onPick) {
  const wasOpen = openMenu?.button === button;
  closeOpenMenu();
  if (wasOpen) return;
  const node = document.createElement("div");
  node.className = "menu-list conv-menu-list"; // the header menu's look (parley.css), placed under the row
  node.setAttribute("role", "menu");
  node.setAttribute("aria-label", button.getAttribute("aria-label"));
  for (const { action, label } of items) {
    const item = document.createElement("button");
    item.type = "button";
    item.className = `menu-item conv-menu-${action}`;
    item.setAttribute("role", "menuitem");
    item.dataset.menuAction = action;
    item.textContent = label;
    node.append(item);
  }
  node.addEventListener("click", (event) => {
    const action = event.target.closest("[data-menu-action]")?.dataset.menuAction;
    if (!action) return;
    event.stopPropagation();
    closeOpenMenu({ refocus: true });
    onPick(action);
  });
  node.addEventListener("keydown", (event) => onMenuKey(event, node));
  button.after(node);
  button.setAttribute("aria-expanded", "true");
  openMenu = { node, button };
  node.querySelector("[role=menuitem]").focus();
}

function onMenuKey(event, node) {
  const items = [...node.querySelectorAll("[role=menuitem]")];
  const at = items.indexOf(document.activeElement);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    items[(at + step + items.length) % items.length].focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation();
    closeOpenMenu({ refocus: true });
  } else if (event.key === "Tab") {
    closeOpenMenu({ refocus: true });
  }
}
