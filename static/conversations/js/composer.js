// The message box: Enter sends, Shift+Enter breaks the line, it grows with its text, and
// sending is disabled with a visible reason while the conversation cannot take a message.

const MAX_HEIGHT = 240; // px before the box scrolls instead of growing

export class Composer {
  constructor({ form, input, send, stop, status, maxBytes, onSend, onStop, attachments = null }) {
    Object.assign(this, { form, input, send, stop, status, maxBytes, onSend, onStop, attachments });
    this.reason = "";
    this.generating = false;
    this.encoder = new TextEncoder();
    input.addEventListener("input", () => this.refresh());
    input.addEventListener("keydown", (event) => this.onKey(event));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    stop.addEventListener("click", () => this.onStop());
    this.refresh();
  }

  onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    } else if (event.key === "Escape" && this.generating) {
      event.preventDefault();
      this.onStop();
    }
  }

  submit() {
    const content = this.input.value;
    if (!this.canSend()) {
      if ((this.reason || this.attachments?.unsettled) && this.hasContent()) this.status.classList.add("is-shaking");
      setTimeout(() => this.status.classList.remove("is-shaking"), 400);
      return;
    }
    this.onSend(content);
  }

  clear() {
    this.input.value = "";
    this.refresh();
  }

  restore(content) {
    if (!this.input.value.trim()) this.input.value = content;
    this.refresh();
  }

  tooLong() {
    // The frame wraps the content in JSON, so leave room for the envelope.
    return this.encoder.encode(this.input.value).length > this.maxBytes - 512;
  }

  /** Text or attached files: a message may be only a picture. */
  hasContent() {
    return this.input.value.trim() !== "" || Boolean(this.attachments?.count);
  }

  canSend() {
    return !this.reason && !this.generating && this.hasContent() && !this.attachments?.unsettled && !this.tooLong();
  }

  /** Why sending is impossible now ("" when it is possible), and whether a reply is running. */
  setState({ reason = "", generating = false }) {
    this.reason = reason;
    this.generating = generating;
    this.refresh();
  }

  refresh() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT)}px`;
    this.input.classList.toggle("is-scrolling", this.input.scrollHeight > MAX_HEIGHT);
    const tooLong = this.tooLong();
    this.send.disabled = !this.canSend();
    this.send.hidden = this.generating;
    this.stop.hidden = !this.generating;
    let text = this.reason;
    if (!text && this.generating) text = "Parley is replying… press Esc or the stop button to stop.";
    if (!text && tooLong) text = "This message is too long to send.";
    if (!text && this.attachments?.unsettled) text = "Waiting for the files to upload (remove any that failed).";
    this.status.textContent = text;
    this.form.classList.toggle("is-blocked", Boolean(this.reason) || tooLong);
    this.form.dataset.state = this.reason ? "blocked" : this.generating ? "generating" : "ready";
  }

  focus() {
    this.input.focus();
  }
}
