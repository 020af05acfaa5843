// Files attached in the composer: pasted, dropped or picked with the file button. Each is uploaded
// at once (POST /api/uploads/), shown as a chip with a preview, and can be removed before sending.
// The server decides what a file is; a refusal shows its reason on the chip.

const UPLOAD_URL = "/api/uploads/";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export class Attachments {
  constructor({ form, input, tray, button, picker, onChange }) {
    Object.assign(this, { form, tray, picker, onChange });
    this.items = [];
    button.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => {
      this.addFiles(picker.files);
      picker.value = "";
    });
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length) return;
      event.preventDefault();
      this.addFiles(files);
    });
    form.addEventListener("dragover", (event) => {
      if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
      event.preventDefault();
      form.classList.add("is-dropping");
    });
    form.addEventListener("dragleave", () => form.classList.remove("is-dropping"));
    form.addEventListener("drop", (event) => {
      form.classList.remove("is-dropping");
      if (!event.dataTransfer?.files?.length) return;
      event.preventDefault();
      this.addFiles(event.dataTransfer.files);
    });
  }

  get count() {
    return this.items.length;
  }

  /** Uploads still in flight (sending waits for them) or refused (they must be removed first). */
  get unsettled() {
    return this.items.some((item) => item.state !== "done");
  }

  ids() {
    return this.items.filter((item) => item.state === "done").map((item) => item.upload.id);
  }

  /** Parts for the optimistic message shown before the server confirms it. */
  parts() {
    return this.items.filter((item) => item.state === "done").map((item) => ({
      type: item.preview ? "image" : "file", name: item.upload.name, size: item.upload.size,
      content_type: item.upload.content_type, url: item.preview || `/api/uploads/${item.upload.id}/content`,
    }));
  }

  addFiles(files) {
    for (const file of files) this.add(file);
  }

  add(file) {
    const item = { file, state: "uploading", upload: null, preview: null, error: "" };
    item.node = this.chip(item);
    this.items.push(item);
    this.tray.append(item.node);
    this.tray.hidden = false;
    if (file.type.startsWith("image/")) {
      const reader = new FileReader();
      reader.onload = () => {
        item.preview = reader.result;
        this.refresh(item);
      };
      reader.readAsDataURL(file);
    }
    this.upload(item);
    this.onChange();
  }

  async upload(item) {
    const body = new FormData();
    body.append("file", item.file, item.file.name);
    try {
      const response = await fetch(UPLOAD_URL, {
        method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.error || `Upload failed (${response.status}).`);
      item.upload = data;
      item.state = "done";
      if (!data.content_type.startsWith("image/")) item.preview = null; // the server decided it is no image
    } catch (error) {
      item.state = "failed";
      item.error = error.message;
    }
    if (this.items.includes(item)) {
      this.refresh(item);
      this.onChange();
    }
  }

  remove(item) {
    this.items = this.items.filter((other) => other !== item);
    item.node.remove();
    this.tray.hidden = this.items.length === 0;
    if (item.state === "done") {
      fetch(`/api/uploads/${item.upload.id}/`, {
        method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
      }).catch(() => {}); // an upload left behind expires on its own
    }
    this.onChange();
  }

  /** Put back the files of a message the server refused, so nothing has to be attached again. */
  restore(parts = [], ids = []) {
    if (this.items.length) return;
    parts.filter((part) => part.type !== "text").forEach((part, index) => {
      if (!ids[index]) return;
      const upload = { id: ids[index], name: part.name, size: part.size, content_type: part.content_type };
      const item = { file: { name: part.name }, state: "done", upload, preview: part.type === "image" ? part.url : null, error: "" };
      item.node = this.chip(item);
      this.items.push(item);
      this.tray.append(item.node);
    });
    this.tray.hidden = this.items.length === 0;
    this.onChange();
  }

  /** After a send: the uploads now belong to the message. */
  clear() {
    for (const item of this.items) item.node.remove();
    this.items = [];
    this.tray.hidden = true;
    this.onChange();
  }

  chip(item) {
    const node = el("li", "attachment");
    const remove = el("button", "attachment-remove", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${item.file.name}`);
    remove.addEventListener("click", () => this.remove(item));
    node.append(el("span", "attachment-preview"), el("span", "attachment-name", item.file.name), el("span", "attachment-note"), remove);
    this.refresh(item, node);
    return node;
  }

  refresh(item, node = item.node) {
    node.dataset.state = item.state;
    const preview = node.querySelector(".attachment-preview");
    preview.replaceChildren();
    if (item.preview) {
      const image = el("img");
      image.src = item.preview;
      image.alt = "";
      preview.append(image);
    } else {
      preview.textContent = (item.file.name.split(".").pop() || "file").slice(0, 4).toUpperCase();
    }
    const note = node.querySelector(".attachment-note");
    note.textContent = item.state === "uploading" ? "Uploading…" : item.state === "failed" ? item.error : formatSize(item.upload.size);
  }
}
