// Untrusted model text -> safe DOM. Markdown is parsed by marked, raw HTML in it is shown
// as text, the result is sanitized by DOMPurify, links open in a new tab without an opener,
// and images load only from trusted hosts (others become a link, so nothing is fetched).

import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import hljs from "../vendor/highlight.min.js";

const ALLOWED_TAGS = [
  "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
  "img", "input", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
  "tfoot", "th", "thead", "tr", "ul",
];
const ALLOWED_ATTR = ["href", "title", "alt", "src", "class", "type", "checked", "disabled", "start", "align", "colspan", "rowspan"];
const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML from the model is displayed, never interpreted.
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0].toLowerCase();
      let body;
      let label = language;
      if (language && hljs.getLanguage(language)) {
        body = hljs.highlight(text, { language, ignoreIllegals: true }).value;
      } else {
        body = escapeHtml(text);
        label = language || "text";
      }
      return `<pre><code class="hljs language-${escapeHtml(label)}">${body}</code></pre>\n`;
    },
  },
});

let trustedHosts = new Set();

/** Origins (e.g. "https://img.example.com") whose images may load; everything else is blocked. */
export function setTrustedImageHosts(hosts) {
  trustedHosts = new Set(
    (hosts || []).map((host) => {
      try {
        return new URL(host.includes("://") ? host : `https://${host}`).origin;
      } catch {
        return null;
      }
    }).filter(Boolean),
  );
}

export function isTrustedImage(src) {
  try {
    const url = new URL(src, location.href);
    return (url.protocol === "https:" || url.protocol === "http:") && trustedHosts.has(url.origin);
  } catch {
    return false;
  }
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A") {
    const href = node.getAttribute("href") || "";
    if (!SAFE_URL.test(href.trim())) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  } else if (node.nodeName === "IMG") {
    const src = node.getAttribute("src") || "";
    if (!isTrustedImage(src)) {
      // Runs inside DOMPurify's inert document, so the untrusted URL is never requested.
      node.removeAttribute("src");
      node.setAttribute("data-blocked-src", src);
    }
    node.setAttribute("loading", "lazy");
    node.setAttribute("referrerpolicy", "no-referrer");
  } else if (node.nodeName === "INPUT") {
    // Only GFM task-list checkboxes, and never interactive.
    node.setAttribute("type", "checkbox");
    node.setAttribute("disabled", "");
  }
});

const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: [...ALLOWED_ATTR, "data-blocked-src", "target", "rel", "loading", "referrerpolicy"],
  ALLOW_DATA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/)/i,
  RETURN_DOM_FRAGMENT: true,
};

/** An image from an untrusted host becomes a visible, clickable link to its URL. */
function replaceBlockedImages(fragment) {
  for (const img of fragment.querySelectorAll("img[data-blocked-src]")) {
    const src = img.getAttribute("data-blocked-src");
    const note = document.createElement("span");
    note.className = "blocked-image";
    note.title = "Image from an untrusted host was not loaded";
    note.append("Image not loaded: ");
    if (/^https?:/i.test(src)) {
      const link = document.createElement("a");
      link.href = src;
      link.textContent = img.getAttribute("alt") ? `${img.getAttribute("alt")} (${src})` : src;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      note.append(link);
    } else {
      note.append(src || img.getAttribute("alt") || "(no address)");
    }
    img.replaceWith(note);
  }
}

/** Code blocks get a header with the language and a copy button. */
function decorateCodeBlocks(fragment) {
  for (const pre of fragment.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const language = ((code && code.className.match(/language-([\w+#.-]+)/)) || [])[1] || "text";
    const wrapper = document.createElement("div");
    wrapper.className = "code-block";
    const head = document.createElement("div");
    head.className = "code-head";
    const label = document.createElement("span");
    label.className = "code-lang";
    label.textContent = language;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "code-copy";
    copy.dataset.action = "copy-code";
    copy.setAttribute("aria-label", `Copy ${language} code`);
    copy.textContent = "Copy";
    head.append(label, copy);
    pre.replaceWith(wrapper);
    wrapper.append(head, pre);
  }
}

function blockToFragment(tokens, links) {
  const list = [...tokens];
  list.links = links;
  const html = marked.parser(list).trim(); // no stray newline text nodes between blocks
  const fragment = DOMPurify.sanitize(html, PURIFY_CONFIG);
  replaceBlockedImages(fragment);
  decorateCodeBlocks(fragment);
  return fragment;
}

/** A whole text rendered at once (used for finished messages). */
export function renderMarkdown(text) {
  const tokens = marked.lexer(text || "");
  return blockToFragment(tokens, tokens.links);
}

const sources = new WeakMap(); // rendered block element -> the markdown it came from

/**
 * Render `text` into `container`, reusing the DOM of top-level blocks whose source is
 * unchanged: while a reply streams only its last block or two are rebuilt per frame.
 */
export function renderInto(container, text) {
  const tokens = marked.lexer(text || "");
  const blocks = tokens.filter((token) => token.type !== "space" && token.type !== "def");
  const children = [...container.children];
  let same = 0;
  while (same < blocks.length && same < children.length && sources.get(children[same]) === blocks[same].raw) same++;
  for (const stale of children.slice(same)) stale.remove();
  for (const token of blocks.slice(same)) {
    const block = document.createElement("div");
    block.className = "md-block";
    sources.set(block, token.raw);
    block.append(blockToFragment([token], tokens.links));
    container.append(block);
  }
}
