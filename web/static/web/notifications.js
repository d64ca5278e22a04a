// The bell in the page header: the unread count (GET /me, then `notifications.unread` on
// the person's `user:` topic, so every tab shows the same), and its panel: notifications
// unread first, newest first, "Load more", marking read, going to what one is about, and
// the "E-mail me about…" choices. Every text is set as textContent (names are user input).
import * as rest from "./api.js";
import { momentLabel } from "./calendar.js";
import { describe, kindLabel, target } from "./notification-words.js";
import { busy, clearError, el, errorBox, showError } from "./ui.js";

const count = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : null);
const isUnread = (notification) => !notification.read_at;

/** Mount the bell into `root` (in the header); `showLesson(bookingId)` reveals a lesson
 *  of the page and says whether it could. Returns {onEvent, resync}. */
export function mountNotifications(root, { me, showLesson = () => false }) {
  const tz = me.timezone;
  // items: id → notification with `tick`, the order it was last stored in (see load).
  const state = { unread: 0, items: new Map(), tick: 0, cursor: null, loaded: false, stale: false, version: 0, loads: 0, opens: 0 };

  const badge = el("span", { id: "bell-count", class: "bell-count", hidden: true });
  const unreadWord = el("span", { class: "visually-hidden", hidden: true }, " unread");
  const bell = el("button", {
    type: "button", id: "bell", class: "bell", "aria-expanded": "false", "aria-controls": "notifications-panel",
    onclick: () => (panel.hidden ? open() : close(false)),
  }, "Notifications", badge, unreadWord);
  const news = el("p", { class: "visually-hidden", "aria-live": "polite" });
  const list = el("ul", { id: "notification-list", class: "notes-list", "aria-labelledby": "notifications-title" });
  const empty = el("p", { class: "muted", hidden: true }, "No notifications yet.");
  const more = el("button", { type: "button", id: "notifications-more", hidden: true }, "Load more");
  const readAll = el("button", { type: "button", id: "notifications-read-all" }, "Mark all read");
  const error = errorBox("notifications-error");
  const settings = settingsForm();
  const panel = el("section", { id: "notifications-panel", class: "notes-panel", hidden: true, "aria-labelledby": "notifications-title" },
    el("div", { class: "notes-head" }, el("h2", { id: "notifications-title" }, "Notifications"), readAll,
      el("button", { type: "button", class: "quiet", onclick: () => close(true) }, "Close")),
    error, list, empty, more, settings,
  );
  root.replaceChildren(bell, news, panel);

  more.addEventListener("click", () => busy(more, error, async () => {
    const shown = list.children.length;
    await load(state.cursor);
    list.children[shown]?.querySelector("button")?.focus(); // the first one loaded, as "Load more" may go
  }));
  readAll.addEventListener("click", () => busy(readAll, error, markAllRead));
  document.addEventListener("keydown", (event) => {
    const here = root.contains(document.activeElement) || document.activeElement === document.body;
    if (event.key === "Escape" && !panel.hidden && here) close(true);
  });
  document.addEventListener("click", (event) => { if (!panel.hidden && !root.contains(event.target)) close(false); });
  setCount(count(me.unread_notifications) ?? 0);

  function open() {
    state.opens += 1;
    panel.hidden = false;
    bell.setAttribute("aria-expanded", "true");
    if (!state.loaded || state.stale) load(null);
  }

  function close(focusBell) {
    panel.hidden = true;
    bell.setAttribute("aria-expanded", "false");
    if (focusBell) bell.focus();
  }

  function setCount(unread) {
    state.unread = unread;
    badge.textContent = String(unread);
    badge.hidden = unreadWord.hidden = unread === 0;
  }

  function keep(notification) {
    state.items.set(notification.id, { ...notification, tick: ++state.tick });
  }

  // A first page (cursor null) replaces what was kept before the request, but not what
  // arrived live meanwhile; its count counts unless a live count came meanwhile.
  async function load(cursor) {
    const [call, tick, version] = [++state.loads, state.tick, state.version];
    if (!cursor) state.stale = false;
    try {
      const page = await rest.listNotifications({ cursor });
      if (call !== state.loads) return;
      if (!cursor) for (const [id, kept] of state.items) if (kept.tick <= tick) state.items.delete(id);
      for (const notification of page.items) keep(notification);
      state.cursor = page.next_cursor;
      state.loaded = true;
      if (version === state.version && count(page.unread_count) !== null) setCount(page.unread_count);
      clearError(error);
      render();
    } catch (failure) {
      if (call === state.loads) showError(error, failure);
    }
  }

  function render() {
    const items = [...state.items.values()].sort((a, b) => isUnread(b) - isUnread(a) || b.id - a.id);
    const focused = document.activeElement?.closest?.("[data-notification]")?.dataset.notification;
    list.replaceChildren(...items.map(row));
    empty.hidden = items.length > 0;
    more.hidden = !state.cursor;
    readAll.disabled = !items.some(isUnread);
    if (focused) list.querySelector(`[data-notification="${CSS.escape(focused)}"] button`)?.focus();
  }

  function row(notification) {
    const words = describe(notification, tz);
    const unread = isUnread(notification);
    const where = target(notification);
    return el("li", { class: unread ? "note unread" : "note", dataset: { notification: notification.id, kind: notification.kind } },
      el("button", { type: "button", class: "note-open", onclick: () => choose(notification) },
        unread && el("span", { class: "visually-hidden" }, "Unread: "),
        el("span", { class: "note-title" }, words.title),
        words.detail && el("span", { class: "note-detail" }, words.detail),
        el("span", { class: "note-time" }, momentLabel(notification.created_at, tz))),
      where?.exportId && el("a", { class: "note-link", href: `/api/v1/me/exports/${where.exportId}`,
        onclick: () => markRead(notification) }, "Download"),
    );
  }

  // Read at once on the page; put back (with the error) if the server refuses.
  function markRead(notification) {
    if (!isUnread(notification)) return;
    keep({ ...notification, read_at: new Date().toISOString() });
    setCount(Math.max(0, state.unread - 1));
    render();
    rest.readNotifications({ ids: [notification.id] }).catch((failure) => {
      keep(notification);
      setCount(state.unread + 1);
      render();
      showError(error, failure);
    });
  }

  async function choose(notification) {
    clearError(error);
    markRead(notification);
    const where = target(notification);
    if (where?.bookingId && showLesson(where.bookingId)) close(false);
    if (where?.conversationId || where?.userId) {
      const opens = state.opens;
      try {
        await openChat(where);
        if (opens === state.opens) close(false); // not if the panel was opened again meanwhile
      } catch (failure) {
        showError(error, { message: `The conversation could not be opened: ${failure.message}` });
      }
    }
  }

  // Every notification known here up to the newest: later ones (arriving meanwhile) stay unread.
  async function markAllRead() {
    const newest = Math.max(0, ...state.items.keys());
    if (!newest) return;
    await rest.readNotifications({ up_to: newest });
    const now = new Date().toISOString();
    for (const kept of [...state.items.values()]) if (kept.id <= newest && isUnread(kept)) keep({ ...kept, read_at: now });
    setCount([...state.items.values()].filter(isUnread).length);
    render();
  }

  function onEvent(event) {
    if (event.type === "notification.created") {
      if (!count(event.data?.id)) return;
      keep(event.data);
      news.textContent = `New: ${describe(event.data, tz).title}`;
      render();
    } else if (event.type === "notifications.unread") {
      const unread = count(event.data?.unread_count);
      if (unread === null) return;
      state.version += 1;
      setCount(unread);
      reconcile(unread);
    }
  }

  // The count went down elsewhere (another tab): fewer unread than shown here. None
  // left is exact on the spot; otherwise the list is read again (now, or when opened).
  function reconcile(unread) {
    const shown = [...state.items.values()].filter(isUnread);
    if (unread === 0 && shown.length) {
      const now = new Date().toISOString();
      for (const kept of shown) keep({ ...kept, read_at: now });
      render();
    } else if (unread < shown.length) {
      if (panel.hidden) state.stale = true;
      else load(null);
    }
  }

  return { onEvent, resync: () => load(null) };
}

// The chat panel is loaded on its own (app.js); without it this says so.
async function openChat({ conversationId, userId }) {
  const chat = await import("./chat.js");
  let thread = conversationId ? await chat.openConversation(conversationId) : null;
  if (!thread && userId) thread = await chat.openConversationWith(userId); // null: the chat panel says why
  if (!thread) throw new Error("it is not among your conversations.");
  document.getElementById("chat")?.scrollIntoView({ block: "nearest" });
}

/** "E-mail me about…": a checkbox per kind (GET/PUT /me/notification-settings), loaded when opened. */
function settingsForm() {
  const boxes = el("div", { class: "note-kinds" });
  const save = el("button", { type: "submit" }, "Save e-mail choices");
  const saved = el("p", { class: "note", "aria-live": "polite" });
  const error = errorBox("notification-settings-error");
  const form = el("form", { id: "notification-settings" }, boxes, save, error, saved);
  const details = el("details", { class: "note-settings" }, el("summary", {}, "E-mail me about…"), form);
  let loaded = false;

  const fill = (email) => {
    const kinds = Object.entries(email && typeof email === "object" ? email : {});
    boxes.replaceChildren(...kinds.map(([kind, on], index) => el("div", { class: "check" },
      el("input", { type: "checkbox", id: `email-kind-${index}`, name: kind, checked: on === true, "data-field": `email.${kind}` }),
      el("label", { for: `email-kind-${index}` }, kindLabel(kind)))));
    loaded = true;
  };
  details.addEventListener("toggle", () => {
    if (details.open && !loaded) busy(save, error, async () => fill((await rest.getNotificationSettings()).email), form);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saved.textContent = "";
    busy(save, error, async () => {
      const email = Object.fromEntries([...boxes.querySelectorAll("input")].map((box) => [box.name, box.checked]));
      fill((await rest.putNotificationSettings(email)).email);
      saved.textContent = "E-mail choices saved.";
    }, form);
  });
  return details;
}
