/**
 * chat.js: the chat panel beside the calendar (docs/web-chat.md).
 *
 *   import { mountChat, openConversationWith } from "/static/web/chat.js";
 *   mountChat(document.getElementById("chat"), { hub, api, me });
 *   openConversationWith(instructorId); // the "Message" button of an instructor
 *
 * `hub` is a connected Hub (hub.js); `api(method, path, body)` resolves with parsed JSON
 * or throws an Error with status, code, message and details; `me` is GET /api/v1/me.
 * The inbox follows `user:{me.id}` (`conversation.updated`); the open conversation is
 * a Thread (chat-thread.js) on `conversation:{id}`.
 */
import { Thread } from "./chat-thread.js";
import { describeError, el } from "./chat-words.js";

let mounted = null; // the panel on this page, for openConversationWith

class ChatPanel {
  constructor(element, { hub, api, me }) {
    Object.assign(this, { element, hub, api, me });
    this.conversations = new Map(); // id -> conversation, as the server last told us
    this.thread = null;
    this.title = el("h2", { id: "chat-title", text: "Messages" });
    this.list = el("ul", { class: "chat-list", "aria-labelledby": "chat-title" });
    this.empty = el("p", { class: "chat-empty", text: "No conversations yet." });
    this.status = el("p", { class: "chat-status", role: "status" });
    this.error = el("p", { class: "chat-error", role: "alert" });
    this.inbox = el("div", { class: "chat-inbox" }, this.title, this.status, this.error, this.list, this.empty);
    // The outer div is the size container; the grid inside it follows its width.
    this.root = el("div", { class: "chat-layout" }, this.inbox);
    element.replaceChildren(el("div", { class: "chat" }, this.root));
    this.watchConnection();
    document.addEventListener("visibilitychange", () => this.thread?.markRead());
  }

  async start() {
    await this.hub.subscribe(`user:${this.me.id}`, (event) => this.onInboxEvent(event), {
      onResync: () => this.loadList(),
    });
    await this.loadList();
  }

  /** Chain onto the Hub's state callback: the panel says when it is offline, and after a
   *  reconnect re-reads presence (ephemeral, never replayed). */
  watchConnection() {
    const previous = this.hub.onState;
    this.hub.onState = (state, detail) => {
      previous.call(this.hub, state, detail);
      if (state === "online") {
        this.status.textContent = "";
        this.thread?.online();
      } else if (state === "offline") {
        this.status.textContent = detail?.final
          ? "Disconnected. Reload the page to chat again."
          : "Connection lost. Reconnecting…";
      }
    };
  }

  async loadList() {
    try {
      const page = await this.api("GET", "/api/v1/conversations?limit=100");
      this.conversations.clear();
      for (const conversation of page.items) this.conversations.set(conversation.id, conversation);
      this.error.textContent = "";
      this.renderList();
    } catch (error) {
      this.error.textContent = `Could not load your conversations. ${describeError(error)}`;
    }
  }

  onInboxEvent({ type, data }) {
    if (type !== "conversation.updated") return;
    const open = this.thread?.conversation.id === data.id;
    // The open conversation is read as it arrives: do not flash a badge for it.
    const known = this.conversations.get(data.id);
    const marker = open ? Math.max(this.thread.myRead, data.last_read_message_id) : data.last_read_message_id;
    const unread = open && marker >= (data.last_message?.id || 0) ? 0 : data.unread_count;
    this.conversations.set(data.id, { ...known, ...data, unread_count: unread });
    this.renderList();
  }

  peerOf(conversation) {
    return conversation.student.id === this.me.id ? conversation.instructor : conversation.student;
  }

  renderList() {
    const items = [...this.conversations.values()].sort((a, b) =>
      b.updated_at.localeCompare(a.updated_at) || b.id - a.id);
    const focused = document.activeElement?.dataset?.conversation;
    this.list.replaceChildren(...items.map((conversation) => this.listItem(conversation)));
    this.empty.hidden = items.length > 0;
    if (focused) this.list.querySelector(`[data-conversation="${focused}"]`)?.focus();
  }

  listItem(conversation) {
    const peer = this.peerOf(conversation);
    const unread = conversation.unread_count;
    const last = conversation.last_message;
    const preview = !last ? "No messages yet" : last.deleted ? "message deleted"
      : `${last.sender_id === this.me.id ? "You: " : ""}${last.body}`;
    const open = this.thread?.conversation.id === conversation.id;
    return el("li", {},
      el("button", { type: "button", class: "chat-item", dataset: { conversation: conversation.id },
        "aria-current": open ? "true" : null,
        onclick: () => this.open(conversation.id) },
      el("span", { class: "chat-item-name", text: peer.name }),
      unread ? el("span", { class: "chat-badge", dataset: { unread }, text: String(unread),
        "aria-label": `${unread} unread` }) : null,
      el("span", { class: "chat-item-preview", text: preview })));
  }

  async open(conversationId) {
    if (this.thread?.conversation.id === conversationId) return this.thread;
    this.closeThread();
    const conversation = this.conversations.get(conversationId);
    const thread = new Thread({
      hub: this.hub, api: this.api, me: this.me, conversation,
      onActivity: (message) => this.activity(conversationId, message),
      onRead: (id) => this.read(id),
      onClose: () => this.closeThread(true),
    });
    this.thread = thread;
    this.root.append(thread.node);
    this.root.classList.add("chat-open");
    this.renderList();
    try {
      await thread.open();
      thread.input.focus();
    } catch (error) {
      thread.showError(`Could not open this conversation. ${describeError(error)}`);
    }
    return thread;
  }

  closeThread(focusList = false) {
    if (!this.thread) return;
    const id = this.thread.conversation.id;
    this.thread.close();
    this.thread = null;
    this.root.classList.remove("chat-open");
    this.renderList();
    if (focusList) this.list.querySelector(`[data-conversation="${id}"]`)?.focus();
  }

  /** A message in the open conversation: it moves to the top with its preview (the
   *  server tells only the other side's inbox about one's own sends). */
  activity(conversationId, message) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation || (conversation.last_message?.id || 0) > message.id) return;
    conversation.last_message = message;
    if (message.created_at > conversation.updated_at) conversation.updated_at = message.created_at;
    this.renderList();
  }

  read(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (conversation && conversation.unread_count) {
      conversation.unread_count = 0;
      this.renderList();
    }
  }

  /** The conversation with that person, started if need be, opened in the panel. */
  async openWith(userId) {
    try {
      const conversation = await this.api("POST", "/api/v1/conversations", { participant_id: userId });
      this.conversations.set(conversation.id, { ...this.conversations.get(conversation.id), ...conversation });
      this.error.textContent = "";
      return await this.open(conversation.id);
    } catch (error) {
      this.error.textContent = `Could not start the conversation. ${describeError(error)}`;
      return null;
    }
  }
}

/** Mount the chat panel into `element`; resolves once the inbox is loaded. */
export async function mountChat(element, { hub, api, me }) {
  mounted = new ChatPanel(element, { hub, api, me });
  await mounted.start();
  return mounted;
}

/** Open (creating it if needed) the conversation with user `userId` in the mounted panel. */
export function openConversationWith(userId) {
  if (!mounted) return Promise.reject(new Error("The chat panel is not mounted."));
  return mounted.openWith(userId);
}

/** Open the conversation `conversationId` (one of the person's own) in the mounted panel;
 *  resolves with the open thread, or null when it is not among their conversations. */
export async function openConversation(conversationId) {
  if (!mounted) throw new Error("The chat panel is not mounted.");
  if (!mounted.conversations.has(conversationId)) await mounted.loadList();
  if (!mounted.conversations.has(conversationId)) return null;
  return mounted.open(conversationId);
}
