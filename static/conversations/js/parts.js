// A message's parts (text, tool calls, tool results) as the page shows them. The view rule is the
// server's (conversations/parts.py): the stored parts, then the text of `content` they don't cover.
// Tool calls render collapsed, with their arguments and result; everything reaches the DOM as text.

import { renderInto } from "./render.js";

export const SEPARATOR = "\n\n";

let fileQuery = ""; // on a share link's page, files are read through the link

/** A share link's page reads its messages' files as the link's viewer: `?share=<link id>`. */
export function readFilesThroughShare(shareId) {
  fileQuery = `?share=${encodeURIComponent(shareId)}`;
}

export function partsView(stored, content) {
  const parts = stored || [];
  const covered = parts.filter((p) => p.type === "text").map((p) => p.text).join(SEPARATOR);
  let tail = content && content.startsWith(covered) ? content.slice(covered.length) : "";
  if (!tail) return parts;
  const last = parts[parts.length - 1];
  if (last && last.type === "text") return [...parts.slice(0, -1), { type: "text", text: last.text + tail }];
  if (covered && tail.startsWith(SEPARATOR)) tail = tail.slice(SEPARATOR.length);
  return tail ? [...parts, { type: "text", text: tail }] : parts;
}

export function hasToolParts(message) {
  return (message.parts || []).some((p) => p.type === "tool_call" || p.type === "tool_result");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pretty(json) {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json; // a malformed call is shown as the model sent it
  }
}

const STATES = {
  writing: "Writing…",
  running: "Running…",
  done: "Done",
  error: "Error",
  stopped: "Not finished",
  partial: "Cut off",
};

function toolState(call, result, streaming) {
  if (call.partial) return "partial"; // stopped while the model wrote it: never run
  if (result) return result.is_error ? "error" : "done";
  if (!streaming) return "stopped";
  return call.streaming ? "writing" : "running"; // `streaming`: the model is still writing its arguments
}

function toolBlock(call, result, state) {
  const details = el("details", "tool-call");
  details.dataset.state = state;
  const summary = el("summary", "tool-summary");
  summary.append(el("span", "tool-label", "Tool"), el("code", "tool-name", call.name), el("span", "tool-state", STATES[state]));
  const args = el("div", "tool-section");
  args.append(el("div", "tool-heading", "Arguments"), el("pre", "tool-args", pretty(call.arguments)));
  details.append(summary, args);
  if (result) {
    const out = el("div", "tool-section");
    out.append(el("div", "tool-heading", "Result"), el("pre", "tool-result", result.content));
    details.append(out);
  }
  return details;
}

/** Render a message with tool parts into `body`, reusing unchanged nodes (text blocks stream in). */
export function renderParts(body, message) {
  const view = partsView(message.parts, message.content);
  const results = new Map(view.filter((p) => p.type === "tool_result").map((p) => [p.call_id, p]));
  const segments = view.filter((p) => p.type === "text" || p.type === "tool_call");
  if (body.dataset.mode !== "parts") {
    body.replaceChildren();
    body.dataset.mode = "parts";
  }
  const streaming = message.status === "streaming";
  segments.forEach((segment, index) => {
    let node = body.children[index];
    if (segment.type === "text") {
      if (!node || node.dataset.kind !== "text") {
        const fresh = el("div", "part-text");
        fresh.dataset.kind = "text";
        node ? node.replaceWith(fresh) : body.append(fresh);
        node = fresh;
      }
      renderInto(node, segment.text);
      return;
    }
    const result = results.get(segment.id);
    const state = toolState(segment, result, streaming);
    const key = `${segment.id}:${state}:${state === "writing" ? segment.arguments.length : ""}`;
    if (node && node.dataset.key === key) return;
    const block = toolBlock(segment, result, state);
    block.dataset.kind = "tool";
    block.dataset.key = key;
    if (node && node.open) block.open = true; // keep a block the reader opened open
    node ? node.replaceWith(block) : body.append(block);
  });
  while (body.children.length > segments.length) body.lastElementChild.remove();
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A user's message: its text, then its files (images as pictures, documents as download links). */
export function renderUserMessage(body, message) {
  body.replaceChildren();
  if (message.content) body.append(el("div", "message-text", message.content));
  const files = (message.parts || []).filter((p) => p.type === "image" || p.type === "file");
  if (!files.length) return;
  const list = el("div", "message-files");
  for (const part of files) {
    const url = part.url + fileQuery;
    const link = el("a", part.type === "image" ? "message-image" : "message-file");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    if (part.type === "image") {
      const image = el("img");
      image.src = url;
      image.alt = part.name;
      image.loading = "lazy";
      link.append(image);
    } else {
      link.append(el("span", "", part.name), el("small", "", sizeText(part.size)));
    }
    list.append(link);
  }
  body.append(list);
}

/** Leave parts mode, so plain markdown rendering starts from an empty body. */
export function leaveParts(body) {
  if (body.dataset.mode === "parts") {
    body.replaceChildren();
    delete body.dataset.mode;
  }
}
