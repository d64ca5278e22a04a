// "My lessons": the signed-in person's bookings, kept current by live events, with
// where each happens, cancel (a reason) and, for students, reschedule. Rows are updated
// in place, so a live event never wipes a reason being typed.
import * as rest from "./api.js";
import { statusWords, whenLabel } from "./calendar.js";
import { placeLine } from "./places.js";
import { busy, el, errorBox, money, showError } from "./ui.js";

export const HOLDING = new Set(["pending_payment", "confirmed"]);

export function lessonList({ me, tz, onMove = null, onChange = () => {} }) {
  const bookings = new Map();
  const rows = new Map(); // id → {node, key}
  const error = errorBox("lessons-error");
  const news = el("p", { id: "lesson-news", class: "note", "aria-live": "polite" });
  const list = el("ul", { id: "lessons", class: "lessons" });
  const root = el("div", {}, error, news, list);

  function render() {
    const shown = [...bookings.values()]
      .filter((b) => HOLDING.has(b.status) || Date.parse(b.end) > Date.now())
      .sort((a, b) => a.start.localeCompare(b.start) || a.id - b.id);
    for (const [id, row] of rows) if (!shown.some((b) => b.id === id)) { row.node.remove(); rows.delete(id); }
    shown.forEach((booking, index) => {
      const key = JSON.stringify([booking.status, booking.start, booking.payment, booking.place]);
      let row = rows.get(booking.id);
      if (!row || row.key !== key) {
        const node = lessonRow(booking);
        if (row) row.node.replaceWith(node);
        row = { node, key };
        rows.set(booking.id, row);
      }
      if (list.children[index] !== row.node) list.insertBefore(row.node, list.children[index] ?? null);
    });
    if (!shown.length) list.replaceChildren(el("li", { class: "muted" }, "No lessons yet."));
    else list.querySelector("li.muted")?.remove();
  }

  function lessonRow(booking) {
    const other = me.role === "student" ? `with ${booking.instructor.name}` : `for ${booking.student.name}`;
    const payment = booking.payment ?? {};
    const paid = [money(booking.price_cents, booking.currency)];
    if (payment.credit_cents) paid.push(`credit applied: ${money(payment.credit_cents, booking.currency)}`);
    paid.push(`payment ${String(payment.status ?? "").replaceAll("_", " ")}`);
    const row = el("li", { class: `lesson status-${booking.status}`, dataset: { booking: booking.id } },
      el("p", {}, el("strong", {}, whenLabel(booking.start, booking.end, tz)), ` · ${booking.service.name} ${other} · `,
        el("span", { class: "status" }, statusWords(booking.status))),
      placeLine(booking, me.role),
      el("p", { class: "muted" }, paid.join(" · ")),
    );
    if (HOLDING.has(booking.status)) row.append(actions(booking));
    return row;
  }

  function actions(booking) {
    const id = `reason-${booking.id}`;
    const reason = el("input", { id, name: "reason", "data-field": "reason", maxlength: 500, autocomplete: "off" });
    const cancel = el("button", { type: "submit", class: "danger" }, "Cancel lesson");
    const failed = errorBox(`lesson-error-${booking.id}`);
    const form = el("form", { class: "lesson-actions" },
      el("label", { for: id }, "Reason for cancelling"), reason,
      el("div", { class: "row" }, cancel,
        onMove && el("button", { type: "button", class: "move", onclick: () => onMove(booking) }, "Reschedule")),
      failed,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(cancel, failed, async () => {
        upsert(await rest.cancelBooking(booking.id, reason.value.trim()));
        onChange();
      }, form);
    });
    return form;
  }

  /** Scroll to a lesson and flash it (a notification's way there); false when not listed. */
  function reveal(bookingId) {
    const row = rows.get(bookingId);
    if (!row) return false;
    row.node.setAttribute("tabindex", "-1");
    row.node.scrollIntoView({ block: "center" });
    row.node.focus({ preventScroll: true });
    row.node.classList.add("flash");
    setTimeout(() => row.node.classList.remove("flash"), 3000);
    return true;
  }

  function upsert(booking) {
    bookings.set(booking.id, booking);
    render();
  }

  async function reload() {
    try {
      const page = await rest.listBookings();
      bookings.clear();
      for (const booking of page.items) bookings.set(booking.id, booking);
      render();
    } catch (failure) {
      showError(error, failure);
    }
  }

  function onEvent(event) {
    if (event.type.startsWith("booking.")) {
      const before = bookings.get(event.data.id);
      upsert(event.data);
      if (before?.status !== event.data.status) {
        news.textContent = `${event.data.service.name}, ${whenLabel(event.data.start, event.data.end, tz)}: ${statusWords(event.data.status)}.`;
      }
    } else if (event.type.startsWith("payment.")) {
      const booking = bookings.get(event.data.booking_id);
      if (booking) upsert({ ...booking, payment: event.data.payment });
    }
  }

  return { root, upsert, reload, onEvent, reveal, all: () => [...bookings.values()] };
}
