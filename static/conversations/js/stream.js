// A conversation's state and the protocol v1 rules that change it. No DOM here.
//
// `apply(frame)` returns what changed so the view can patch only that:
//   {reset}              the whole list changed (a snapshot)
//   {added: [ids]}       new messages (also optimistic ones confirmed by the server)
//   {removed: [ids]}     messages gone (the branch left when an edit or regenerate starts another)
//   {updated: [ids]}     a message's text or status changed
//   {sync: true}         a delta arrived after a gap: ask the server for a snapshot
//   {renamed: true}      the conversation's own fields changed (title, pin, archive...) elsewhere
//   {deleted: true}      the conversation was deleted elsewhere
//   {other: {...}}       another conversation of the user changed (`?watch=all`): for the sidebar
//   {otherDeleted: id}   another conversation of the user was deleted

export class Conversation {
  constructor() {
    this.info = null; // {id, title, model, ...} from the snapshot
    this.messages = []; // in display order
    this.pending = new Map(); // request_id -> optimistic user message not yet confirmed
    this.loaded = false;
  }

  get(id) {
    return this.messages.find((m) => m.id === id);
  }

  get streaming() {
    return this.messages.find((m) => m.role === "assistant" && m.status === "streaming") || null;
  }

  get lastAssistant() {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      if (this.messages[i].role === "assistant") return this.messages[i];
    }
    return null;
  }

  /** Show a sent message at once; the server's `message.created` confirms it. */
  addPending(requestId, content, attachments = [], attachmentIds = []) {
    const text = content ? [{ type: "text", text: content }] : [];
    const message = {
      id: `pending-${requestId}`, role: "user", content, status: "pending", seq: 0, parts: [...text, ...attachments],
      attachments: attachmentIds, error: null, request_id: requestId, created_at: new Date().toISOString(),
    };
    this.pending.set(requestId, message);
    this.messages.push(message);
    return message;
  }

  dropPending(requestId) {
    const message = this.pending.get(requestId);
    if (!message) return null;
    this.pending.delete(requestId);
    this.messages = this.messages.filter((m) => m !== message);
    return message;
  }

  apply(frame) {
    switch (frame.type) {
      case "conversation.snapshot":
        return this.applySnapshot(frame);
      case "message.created":
        return this.applyCreated(frame);
      case "message.delta":
        return this.applyDelta(frame);
      case "message.parts":
        return this.applyParts(frame);
      case "message.completed":
        return this.applyCompleted(frame);
      case "conversation.updated":
        if (this.isOther(frame.conversation.id)) return { other: frame.conversation };
        this.info = frame.conversation;
        return { renamed: true };
      case "conversation.deleted":
        if (this.isOther(frame.conversation_id)) return { otherDeleted: frame.conversation_id };
        return { deleted: true };
      default:
        return {};
    }
  }

  /** A frame about another of the user's conversations (the socket asked with `?watch=all`). */
  isOther(id) {
    return Boolean(this.info) && id !== this.info.id;
  }

  applySnapshot({ conversation, messages }) {
    this.info = conversation;
    this.messages = messages.map((m) => ({ ...m }));
    for (const message of this.pending.values()) this.messages.push(message);
    this.loaded = true;
    return { reset: true };
  }

  applyCreated({ message, request_id: requestId }) {
    const changes = { added: [], removed: [] };
    const pending = message.role === "user" && requestId ? this.pending.get(requestId) : null;
    if (pending) {
      this.pending.delete(requestId);
      this.messages = this.messages.filter((m) => m !== pending);
      changes.removed.push(pending.id);
    }
    const existing = this.get(message.id);
    if (existing) {
      // A resent request: the server repeats what it created. Keep whatever is newer.
      if (message.seq >= existing.seq) Object.assign(existing, message);
      return { updated: [message.id], removed: changes.removed };
    }
    // The new message follows its parent: whatever the branch showed after the parent is left.
    const parentAt = message.parent_id ? this.messages.findIndex((m) => m.id === message.parent_id) : -1;
    if (message.parent_id && parentAt < 0) return { sync: true };
    const kept = this.messages.slice(0, parentAt + 1);
    for (const m of this.messages.slice(parentAt + 1)) {
      if (m.status === "pending") kept.push(m);
      else changes.removed.push(m.id);
    }
    this.messages = kept;
    this.insertBeforePending({ ...message });
    changes.added.push(message.id);
    return changes;
  }

  insertBeforePending(message) {
    const firstPending = this.messages.findIndex((m) => m.status === "pending");
    if (firstPending < 0) this.messages.push(message);
    else this.messages.splice(firstPending, 0, message);
  }

  /** The resume rule: apply seq == current+1, ignore older, ask for a snapshot after a gap. */
  applyDelta({ message_id: id, seq, delta }) {
    const message = this.get(id);
    if (!message) return { sync: true };
    if (message.status !== "streaming" || seq <= message.seq) return {};
    if (seq !== message.seq + 1) return { sync: true };
    message.content += delta;
    message.seq = seq;
    return { updated: [id], delta: true };
  }

  /** A tool event: the stored parts only grow, so an older list than the one held is ignored. */
  applyParts({ message_id: id, parts }) {
    const message = this.get(id);
    if (!message || message.status !== "streaming") return {};
    if ((message.parts || []).length > parts.length) return {};
    message.parts = parts;
    return { updated: [id] };
  }

  applyCompleted({ message }) {
    const existing = this.get(message.id);
    if (!existing) {
      this.insertBeforePending({ ...message });
      return { added: [message.id], completed: message.id };
    }
    Object.assign(existing, message);
    return { updated: [message.id], completed: message.id };
  }
}
