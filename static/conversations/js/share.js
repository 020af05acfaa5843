// The page a share link opens: the chat page's reducer (stream.js) and thread (thread.js) over the
// link's read-only socket. A revoked link closes the socket with 1008: the page says so and stops.

import { showConnectionState } from "./connection.js";
import { readFilesThroughShare } from "./parts.js";
import { setTrustedImageHosts } from "./render.js";
import { ConversationSocket } from "./socket.js";
import { Conversation } from "./stream.js";
import { Thread } from "./thread.js";

const config = JSON.parse(document.getElementById("parley-config").textContent);
setTrustedImageHosts(config.trustedImageHosts);
readFilesThroughShare(config.shareId);

const $ = (id) => document.getElementById(id);
const conversation = new Conversation();
const thread = new Thread({ scroller: $("thread"), list: $("messages"), empty: $("empty-state"), jump: $("jump") });

const socket = new ConversationSocket(null, {
  path: `/ws/shares/${config.shareId}/`,
  onFrame,
  onState(state, detail) {
    showConnectionState(state, detail);
    if (state === "ended") {
      $("banner-text").textContent = "This link was revoked or has ended.";
      $("banner-login").hidden = true;
      socket.close();
    }
  },
});

function onFrame(frame) {
  if (frame.type === "error" || frame.type === "connection.status") return;
  const changes = conversation.apply(frame);
  if (changes.sync) {
    socket.send({ type: "sync" });
  } else if (changes.reset) {
    thread.reset(conversation);
    $("conversation-title").textContent = frame.conversation.title;
  } else {
    thread.patch(changes);
  }
}

$("messages").addEventListener("click", async (event) => {
  const target = event.target.closest("[data-action='copy-code'], [data-action='copy-message']");
  if (!target) return;
  const text = target.dataset.action === "copy-code"
    ? target.closest(".code-block").querySelector("code").textContent
    : conversation.get(target.closest(".message").dataset.id)?.content || "";
  await navigator.clipboard?.writeText(text);
});
