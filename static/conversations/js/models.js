// The chat header's model picker and the conversation settings dialog (system prompt, temperature).
// Both only read and write through the JSON API; every tab learns of a change from the
// `conversation.updated` frame, which app.js hands to show().

import * as api from "./api.js";

const UNAVAILABLE = "unavailable";

export class ModelPicker {
  constructor({ select, onPick }) {
    this.select = select;
    this.onPick = onPick;
    this.models = [];
    this.draft = null; // the model picked for a chat not created yet (null: the default)
    this.select.addEventListener("change", () => {
      const id = this.select.value === UNAVAILABLE ? null : Number(this.select.value);
      this.onPick(id);
    });
  }

  async load() {
    try {
      this.models = (await api.listModels()).models;
    } catch {
      this.models = [];
    }
    this.render();
  }

  get defaultModel() {
    return this.models.find((model) => model.default) || this.models[0] || null;
  }

  render(current = this.current ?? null) {
    const options = this.models.map((model) => new Option(model.label, String(model.id)));
    if (current !== null && !this.models.some((model) => model.id === current)) {
      const gone = new Option("Unavailable model", UNAVAILABLE);
      gone.disabled = true;
      options.unshift(gone);
    }
    this.select.replaceChildren(...options);
    const shown = current ?? this.defaultModel?.id ?? null;
    this.select.value = shown === null ? "" : this.models.some((m) => m.id === shown) ? String(shown) : UNAVAILABLE;
    this.select.hidden = this.models.length === 0;
    this.select.title = this.models.find((m) => m.id === shown)?.name || "This model is no longer available; pick another.";
  }

  /** The model of the open conversation (its `model` id, null for the default); a new chat shows its draft. */
  show(conversation) {
    this.current = conversation ? conversation.model : this.draft;
    this.render(this.current);
  }
}

export class SettingsDialog {
  constructor({ dialog, button, prompt, temperature, onSave }) {
    Object.assign(this, { dialog, button, prompt, temperature, onSave });
    this.info = null;
    button.addEventListener("click", () => this.open());
    dialog.querySelector("form").addEventListener("submit", (event) => {
      if (event.submitter?.value !== "save") return;
      event.preventDefault();
      this.save();
    });
  }

  /** The conversation whose settings the dialog edits (null for a new chat: the button is hidden). */
  show(conversation) {
    this.info = conversation;
    this.button.hidden = !conversation;
  }

  open() {
    if (!this.info) return;
    this.prompt.value = this.info.system_prompt || "";
    this.temperature.value = this.info.temperature ?? "";
    this.dialog.showModal();
  }

  async save() {
    const raw = this.temperature.value.trim();
    const fields = { system_prompt: this.prompt.value, temperature: raw === "" ? null : Number(raw) };
    if (await this.onSave(fields)) this.dialog.close();
  }
}
