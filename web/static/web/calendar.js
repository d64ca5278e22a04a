// The week calendar. Dates are "YYYY-MM-DD" strings in the person's own time zone;
// slots and lessons are UTC instants placed on the local day and time they fall on.
import { el } from "./ui.js";

const STATUS_WORDS = {
  pending_payment: "waiting for payment",
  confirmed: "confirmed",
  cancelled: "cancelled",
  expired: "expired",
  completed: "completed",
  no_show: "no-show",
};
export const statusWords = (status) => STATUS_WORDS[status] ?? status;

/** The local date and "HH:MM" of an instant in a time zone. */
export function localParts(instant, tz) {
  const format = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

export const todayIn = (tz) => localParts(Date.now(), tz).date;

// Day arithmetic on plain dates, at noon UTC so no zone's offset can move the day.
export function addDays(date, days) {
  const day = new Date(`${date}T12:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}
export const mondayOf = (date) => addDays(date, -((new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7));

export function dayLabel(date) {
  return new Date(`${date}T12:00:00Z`).toLocaleDateString("en-GB", {
    timeZone: "UTC", weekday: "short", day: "numeric", month: "short",
  });
}

/** "Tue 3 Jun, 10:00–11:00" in the zone. */
export function whenLabel(start, end, tz) {
  const from = localParts(start, tz);
  return `${dayLabel(from.date)}, ${from.time}–${localParts(end, tz).time}`;
}

/** "Tue 3 Jun, 10:00" in the zone; "" for anything that is not a time (data from elsewhere). */
export function momentLabel(instant, tz) {
  if (typeof instant !== "string" || Number.isNaN(Date.parse(instant))) return "";
  const { date, time } = localParts(instant, tz);
  return `${dayLabel(date)}, ${time}`;
}

/** Previous/next week buttons around a heading; calls onChange(monday) on each move. */
export function weekNav(tz, onChange) {
  let monday = mondayOf(todayIn(tz));
  const heading = el("h2", { id: "week-title", "aria-live": "polite" });
  const show = () => { heading.textContent = `Week of ${dayLabel(monday)} (${tz})`; };
  const move = (days) => { monday = addDays(monday, days); show(); onChange(monday); };
  const nav = el("div", { class: "week-nav" },
    el("button", { type: "button", id: "prev-week", onclick: () => move(-7) }, "← Previous week"),
    heading,
    el("button", { type: "button", id: "next-week", onclick: () => move(7) }, "Next week →"),
  );
  show();
  return { nav, monday: () => monday };
}

/**
 * Draw the week into `root`. entries: {start, end, kind: "slot"|"lesson", text, onClick?, id?}.
 * Free slots are buttons (keyboard-usable); lessons are items with their status.
 */
export function renderWeek(root, { monday, tz, entries, empty = "No free times" }) {
  const byDay = new Map();
  for (const entry of [...entries].sort((a, b) => a.start.localeCompare(b.start))) {
    const { date } = localParts(entry.start, tz);
    if (!byDay.has(date)) byDay.set(date, []);
    byDay.get(date).push(entry);
  }
  const days = [];
  for (let i = 0; i < 7; i += 1) {
    const date = addDays(monday, i);
    const items = (byDay.get(date) ?? []).map((entry) => el("li", {}, entryNode(entry, tz)));
    days.push(el("section", { class: "day", "aria-label": dayLabel(date), dataset: { date } },
      el("h3", {}, dayLabel(date)),
      items.length ? el("ul", {}, items) : el("p", { class: "muted" }, empty),
    ));
  }
  root.replaceChildren(el("div", { class: "week" }, days));
}

function entryNode(entry, tz) {
  const time = localParts(entry.start, tz).time;
  if (entry.kind === "slot") {
    return el("button", {
      type: "button", class: "slot", dataset: { start: entry.start },
      "aria-label": `${whenLabel(entry.start, entry.end, tz)}: ${entry.text ?? "free"}`,
      onclick: entry.onClick,
    }, time);
  }
  return el("div", { class: `lesson status-${entry.status}`, dataset: { booking: entry.id } },
    el("strong", {}, time), " ", entry.text, " ", el("span", { class: "status" }, `(${statusWords(entry.status)})`),
  );
}
