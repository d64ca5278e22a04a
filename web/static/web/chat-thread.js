/**
 * chat-thread.js: one open conversation of the chat panel (docs/web-chat.md): its history,
 * live messages, sending, editing, deleting, typing, read ticks and the other's presence.
 *
 * Every message is kept once by id; one sent from this page is first kept by its
 * client_id (pending) and becomes the stored one when either the reply or the
 * `message.created` event comes, whichever is first, so it is never shown twice.
 */
import { bodyProblem, describeError, el, when } from "./chat-words.js";

const PAGE = 30; // messages per history page
const TYPING_EVERY_MS = 2000; // the server drops more than one per 2 s anyway
const TYPING_SHOWN_MS = 4000;
/** Socket failures after which the same request is repeated over REST: safe, since a
 *  send carries its client_id (idempotent) and edit/delete/read give the same result. */
const NO_SOCKET = new Set(["offline", "closed", "timeout"]);

/** Which of two copies of a message is the later state: deleted beats all, then edits. */
function newer(candidate, known) {
  if (known.deleted) return false;
  if (candidate.deleted) return true;
  return (candidate.edited_at || "") > (known.edited_at || "");
}

export class Thread {
  /**
   * @param {{hub, api, me, conversation, onActivity: (message) => void,
   *          onRead: (conversationId, messageId) => void, onClose: () => void}} options
   */
  constructor({ hub, api, me, conversation, onActivity, onRead, onClose }) {
    Object.assign(this, { hub, api, me, conversation, onActivity, onRead });
    this.topic = `conversation:${conversation.id}`;
    const mine = conversation.student.id === me.id;
    this.peer = mine ? conversation.instructor : conversation.student;
    this.messages = new Map(); // id -> {data, node}
    this.pending = new Map(); // client_id -> {body, node}
    this.myRead = conversation.last_read_message_id || 0;
    this.peerRead = 0; // raised by `read` events and by the peer's own messages
    this.present = new Set();
    this.hasMore = true;
    this.loadingOlder = null;
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.build(onClose);
  }

  build(onClose) {
    const id = `chat-${this.conversation.id}`;
    this.dot = el("span", { class: "chat-dot", "aria-hidden": "true" });
    this.presence = el("span", { class: "chat-presence", text: "offline" });
    this.older = el("button", { type: "button", class: "chat-older", text: "Load older messages",
      onclick: () => this.loadOlder() });
    this.list = el("ol", { class: "chat-messages", role: "log", "aria-live": "polite",
      "aria-relevant": "additions text", "aria-label": `Messages with ${this.peer.name}` });
    this.scroller = el("div", { class: "chat-scroll", tabindex: "0",
      "aria-label": `Conversation with ${this.peer.name}` }, this.older, this.list);
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 60 && this.hasMore) this.loadOlder();
    });
    this.typing = el("p", { class: "chat-typing", "aria-live": "polite" });
    this.error = el("p", { class: "chat-error", role: "alert" });
    this.input = el("textarea", { id: `${id}-input`, rows: "2", maxlength: "8000",
      autocomplete: "off", placeholder: `Message ${this.peer.name}` });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.sendTyping());
    const form = el("form", { class: "chat-compose", onsubmit: (event) => {
      event.preventDefault();
      this.submit();
    } },
    el("label", { for: `${id}-input`, class: "chat-visually-hidden", text: `Message to ${this.peer.name}` }),
    this.input, el("button", { type: "submit", text: "Send" }));
    this.node = el("section", { class: "chat-thread", "aria-labelledby": `${id}-title` },
      el("header", { class: "chat-thread-head" },
        el("button", { type: "button", class: "chat-back", text: "← Conversations", onclick: onClose }),
        this.dot,
        el("h3", { id: `${id}-title`, text: this.peer.name }),
        this.presence),
      this.scroller, this.typing, this.error, form);
  }

  /** Follow the topic, then load the newest page. Subscribing first means no message
   *  falls between the page and the live events; the overlap is deduplicated by id. */
  async open() {
    const reply = await this.hub.subscribe(this.topic, (event) => this.onEvent(event), {
      onResync: () => this.refresh(),
    });
    this.setPresence(reply.presence || []);
    await this.refresh();
    this.scrollToEnd();
    this.markRead();
  }

  close() {
    clearTimeout(this.typingTimer);
    this.node.remove();
    this.hub.unsubscribe(this.topic).catch(() => {}); // offline: the topic is dropped anyway
  }

  /** The newest page, merged into what is shown: after opening, and after events were
   *  missed (onResync) or the connection came back. */
  async refresh() {
    try {
      const page = await this.api("GET", `/api/v1/conversations/${this.conversation.id}/messages?limit=${PAGE}`);
      if (!this.messages.size) this.hasMore = page.has_more;
      this.merge(page.items);
      this.older.hidden = !this.hasMore;
    } catch (error) {
      this.showError(`Could not load the messages. ${describeError(error)}`);
    }
  }

  /** Older messages, keeping the one in view where it is. */
  loadOlder() {
    if (this.loadingOlder || !this.hasMore) return this.loadingOlder;
    const oldest = Math.min(...this.messages.keys());
    const before = Number.isFinite(oldest) ? `&before=${oldest}` : "";
    this.list.setAttribute("aria-busy", "true"); // do not read out a page of old messages
    this.loadingOlder = this.api("GET", `/api/v1/conversations/${this.conversation.id}/messages?limit=${PAGE}${before}`)
      .then((page) => {
        const height = this.scroller.scrollHeight;
        const top = this.scroller.scrollTop;
        this.hasMore = page.has_more;
        this.older.hidden = !this.hasMore;
        this.merge(page.items);
        this.scroller.scrollTop = top + (this.scroller.scrollHeight - height);
      })
      .catch((error) => this.showError(`Could not load older messages. ${describeError(error)}`))
      .finally(() => {
        this.list.removeAttribute("aria-busy");
        this.loadingOlder = null;
      });
    return this.loadingOlder;
  }

  merge(items) {
    for (const message of items) this.upsert(message);
  }

  onEvent({ type, data }) {
    if (type === "message.created" || type === "message.edited" || type === "message.deleted") {
      const nearEnd = this.nearEnd();
      this.upsert(data);
      if (type === "message.created") {
        if (data.sender_id !== this.me.id) this.showTyping(false);
        this.onActivity(data);
        if (nearEnd || data.sender_id === this.me.id) this.scrollToEnd();
        this.markRead();
      }
    } else if (type === "read") {
      if (data.user_id === this.me.id) this.myRead = Math.max(this.myRead, data.message_id);
      else this.raisePeerRead(data.message_id);
    } else if (type === "typing") {
      if (data.user_id !== this.me.id) this.showTyping(true);
    } else if (type === "presence.join") {
      this.present.add(data.user_id);
      this.renderPresence();
    } else if (type === "presence.leave") {
      this.present.delete(data.user_id);
      this.renderPresence();
    }
  }

  /** The connection is back: presence from the new subscribe reply (its events are
   *  ephemeral, so none were replayed). */
  online() {
    this.setPresence(this.hub.topics.get(this.topic)?.presence || []);
    this.markRead();
  }

  setPresence(ids) {
    this.present = new Set(ids);
    this.renderPresence();
  }

  renderPresence() {
    const here = this.present.has(this.peer.id);
    this.dot.classList.toggle("chat-dot-on", here);
    this.presence.textContent = here ? "online" : "offline";
  }

  /** Keep one copy per message: the later state of a known id, or a new node in id
   *  order, replacing the pending copy of the same client_id. */
  upsert(message) {
    const known = this.messages.get(message.id);
    if (known) {
      if (newer(message, known.data)) {
        known.data = message;
        if (!known.node.classList.contains("chat-editing") || message.deleted) this.render(known.node, message);
      }
      return;
    }
    if (message.sender_id === this.peer.id) this.raisePeerRead(message.id); // sending moves their marker
    const node = el("li", { class: "chat-msg", dataset: { id: message.id } });
    this.render(node, message);
    const pending = message.sender_id === this.me.id && this.pending.get(message.client_id);
    if (pending) {
      pending.node.replaceWith(node);
      this.pending.delete(message.client_id);
    } else {
      this.insert(node, message.id);
    }
    this.messages.set(message.id, { data: message, node });
  }

  /** In id order; pending ones stay last. Usually the newest, so look from the end. */
  insert(node, id) {
    let after = null;
    for (let child = this.list.lastElementChild; child; child = child.previousElementSibling) {
      if (child.dataset.id && Number(child.dataset.id) < id) {
        after = child;
        break;
      }
    }
    if (after) after.after(node);
    else this.list.prepend(node);
  }

  render(node, message) {
    const mine = message.sender_id === this.me.id;
    node.className = `chat-msg${mine ? " chat-mine" : ""}${message.deleted ? " chat-deleted" : ""}`;
    const body = message.deleted
      ? el("p", { class: "chat-body", text: "message deleted" })
      : el("p", { class: "chat-body", text: message.body });
    const meta = el("p", { class: "chat-meta" },
      el("span", { class: "chat-who", text: mine ? "You" : this.peer.name }), " ",
      el("time", { datetime: message.created_at, text: when(message.created_at) }),
      message.edited_at && !message.deleted ? el("span", { class: "chat-edited", text: " (edited)" }) : null,
      mine && !message.deleted ? this.tick(message.id) : null);
    const actions = mine && !message.deleted ? el("p", { class: "chat-actions" },
      el("button", { type: "button", text: "Edit", onclick: () => this.startEdit(node, message.id) }),
      el("button", { type: "button", text: "Delete", onclick: () => this.askDelete(node, message.id) })) : null;
    node.replaceChildren(meta, body, actions || "");
  }

  tick(id) {
    const read = id <= this.peerRead;
    return el("span", { class: `chat-tick${read ? " chat-read" : ""}`, dataset: { tick: id },
      title: read ? "Read" : "Sent", "aria-label": read ? "read" : "sent", text: read ? " ✓✓" : " ✓" });
  }

  raisePeerRead(id) {
    if (id <= this.peerRead) return;
    const before = this.peerRead;
    this.peerRead = id;
    for (const [messageId, { data, node }] of this.messages) {
      if (messageId > before && messageId <= id && data.sender_id === this.me.id) {
        node.querySelector(".chat-tick")?.replaceWith(this.tick(messageId));
      }
    }
  }

  /** Send `body` (the composer's text, or a retry of a failed one with its client_id). */
  async submit(retry = null) {
    const body = retry ? retry.body : this.input.value;
    const problem = bodyProblem(body);
    if (problem) return this.showError(problem);
    this.showError("");
    const clientId = retry ? retry.clientId : crypto.randomUUID();
    let pending = this.pending.get(clientId);
    if (!pending) {
      pending = { body, node: el("li", { class: "chat-msg chat-mine chat-pending" }) };
      this.pending.set(clientId, pending);
      this.list.append(pending.node);
    }
    this.renderPending(pending, "Sending…");
    if (!retry) this.input.value = "";
    this.scrollToEnd();
    try {
      const data = { body, client_id: clientId };
      const stored = await this.viaSocket("message.send", data, "POST", "/messages", data);
      this.upsert(stored.message || stored);
      this.onActivity(stored.message || stored);
    } catch (error) {
      if (!this.pending.has(clientId)) return; // the event came first: it was stored
      this.renderPending(pending, `Not sent. ${describeError(error)}`, () => this.submit({ body, clientId }));
    }
  }

  renderPending(pending, status, retry = null) {
    pending.node.replaceChildren(
      el("p", { class: "chat-meta" }, el("span", { class: "chat-who", text: "You" }), " ",
        el("span", { class: retry ? "chat-failed" : "chat-sending", text: status })),
      el("p", { class: "chat-body", text: pending.body }),
      retry ? el("p", { class: "chat-actions" }, el("button", { type: "button", text: "Retry", onclick: retry })) : "");
  }

  /** Publish on the socket; when there is none (or it dropped before the reply), make the
   *  same request over REST. Server refusals are thrown as they are. */
  async viaSocket(type, data, method, path, body) {
    try {
      return await this.hub.publish(this.topic, type, data);
    } catch (error) {
      if (!NO_SOCKET.has(error.code)) throw error;
      return this.api(method, `/api/v1/conversations/${this.conversation.id}${path}`, body);
    }
  }

  sendTyping() {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY_MS || !this.input.value.trim()) return;
    this.lastTypingSent = now;
    this.hub.publish(this.topic, "typing", {}).catch(() => {}); // a hint only: never an error
  }

  showTyping(on) {
    clearTimeout(this.typingTimer);
    this.typing.textContent = on ? `${this.peer.name} is typing…` : "";
    if (on) this.typingTimer = setTimeout(() => this.showTyping(false), TYPING_SHOWN_MS);
  }

  /** Move my read marker to the newest message while I can see it. */
  markRead() {
    const newest = Math.max(0, ...this.messages.keys());
    if (newest <= this.myRead || document.visibilityState !== "visible" || !this.node.isConnected) return;
    this.myRead = newest;
    this.onRead(this.conversation.id, newest);
    const data = { message_id: newest };
    this.viaSocket("read", data, "POST", "/read", data).catch((error) => {
      this.myRead = 0; // try again on the next message or visit
      this.showError(`Could not mark the conversation read. ${describeError(error)}`);
    });
  }

  startEdit(node, id) {
    const { data } = this.messages.get(id);
    const box = el("textarea", { class: "chat-edit", rows: "2", "aria-label": "Edit your message" });
    box.value = data.body;
    const cancel = () => {
      node.classList.remove("chat-editing");
      this.render(node, this.messages.get(id).data);
      node.querySelector("button")?.focus();
    };
    const save = async () => {
      const problem = bodyProblem(box.value);
      if (problem) return this.showError(problem);
      try {
        const payload = { message_id: id, body: box.value };
        const stored = await this.viaSocket("message.edit", payload, "PATCH", `/messages/${id}`, { body: box.value });
        node.classList.remove("chat-editing");
        this.showError("");
        const message = stored.message || stored;
        this.messages.get(id).data = message;
        this.render(node, message);
      } catch (error) {
        this.showError(`Not saved. ${describeError(error)}`);
      }
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        cancel();
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      }
    });
    node.classList.add("chat-editing");
    node.querySelector(".chat-body").replaceWith(box);
    node.querySelector(".chat-actions").replaceChildren(
      el("button", { type: "button", text: "Save", onclick: save }),
      el("button", { type: "button", text: "Cancel", onclick: cancel }));
    box.focus();
  }

  /** Asked in place, not with confirm(), so it is keyboard- and screen-reader-friendly. */
  askDelete(node, id) {
    const actions = node.querySelector(".chat-actions");
    const no = el("button", { type: "button", text: "Keep it", onclick: () => {
      this.render(node, this.messages.get(id).data);
      node.querySelector("button")?.focus();
    } });
    const yes = el("button", { type: "button", class: "chat-danger", text: "Delete message", onclick: async () => {
      try {
        await this.viaSocket("message.delete", { message_id: id }, "DELETE", `/messages/${id}`);
        const known = this.messages.get(id);
        this.upsert({ ...known.data, body: null, deleted: true });
        this.showError("");
      } catch (error) {
        this.showError(`Not deleted. ${describeError(error)}`);
      }
    } });
    actions.replaceChildren(el("span", { text: "Delete this message? " }), yes, no);
    no.focus();
  }

  showError(text) {
    this.error.textContent = text;
  }

  nearEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
