// The conversation's share menu: create a read-only link (live or snapshot, login or not, name
// shown or not), list the links, revoke one. Revoking closes every viewer at once (server side).

import { createShare, listShares, revokeShare } from "./api.js";

const $ = (id) => document.getElementById(id);
const dialog = $("share-dialog");
const CONVERSATION_PATH = /^\/c\/([0-9a-f-]{36})\/$/;

function openConversationId() {
  return location.pathname.match(CONVERSATION_PATH)?.[1] || null;
}

function row(link) {
  const item = document.createElement("li");
  item.dataset.shareId = link.id;
  const url = document.createElement("input");
  url.readOnly = true;
  url.value = link.url;
  url.setAttribute("aria-label", `${link.mode} link`);
  const words = document.createElement("span");
  words.textContent = `${link.mode}${link.login_required ? ", login" : ", public"}`;
  const revoke = document.createElement("button");
  revoke.type = "button";
  revoke.className = "btn btn-ghost btn-small share-revoke";
  revoke.textContent = "Revoke";
  revoke.addEventListener("click", async () => {
    await revokeShare(link.id);
    item.remove();
  });
  item.append(words, url, revoke);
  return item;
}

async function refresh(id) {
  const { results } = await listShares(id);
  $("share-list").replaceChildren(...results.map(row));
}

$("share-open").addEventListener("click", async () => {
  const id = openConversationId();
  $("share-error").textContent = id ? "" : "Send a first message, then share the conversation.";
  $("share-create").disabled = !id;
  $("share-list").replaceChildren();
  dialog.showModal();
  if (id) await refresh(id);
});

$("share-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = openConversationId();
  if (event.submitter?.value === "close" || !id) return dialog.close();
  try {
    const link = await createShare(id, {
      mode: $("share-mode").value,
      login_required: $("share-login").checked,
      show_owner: $("share-owner").checked,
    });
    $("share-list").prepend(row(link));
  } catch (error) {
    $("share-error").textContent = error.message;
  }
});

