// The instructor's weekly hours and date overrides. Hours are typed as
// "09:00-12:00, 13:00-17:00" per day (empty: not working), in the instructor's zone.
import * as rest from "./api.js";
import { busy, el, errorBox } from "./ui.js";

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

// "09:00-12:00, 13:00-17:00" → [{start, end}]; a malformed piece is sent as typed so
// the server's 422 names it.
function parseIntervals(text) {
  return text.split(",").map((piece) => piece.trim()).filter(Boolean).map((piece) => {
    const [start = "", end = ""] = piece.split(/\s*[-–]\s*/);
    return { start, end };
  });
}
const showIntervals = (intervals) => intervals.map((i) => `${i.start}-${i.end}`).join(", ");

export function hoursEditor({ tz, onSaved }) {
  const zone = el("input", { id: "hours-tz", name: "timezone", value: tz, "data-field": "timezone", autocomplete: "off" });
  const days = WEEKDAYS.map((name, weekday) => el("input", {
    id: `hours-${weekday}`, name: `day-${weekday}`, placeholder: "e.g. 09:00-17:00", autocomplete: "off",
  }));
  const save = el("button", { type: "submit", class: "primary" }, "Save weekly hours");
  const saved = el("p", { class: "note", "aria-live": "polite" });
  const error = errorBox("hours-error");
  const weekly = el("form", { id: "hours-form", "aria-labelledby": "hours-title" },
    el("h2", { id: "hours-title" }, "Weekly hours"),
    el("label", { for: "hours-tz" }, "Time zone"), zone,
    WEEKDAYS.map((name, weekday) => el("div", { class: "row" }, el("label", { for: `hours-${weekday}` }, name), days[weekday])),
    save, error, saved,
  );
  weekly.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, error, async () => {
      // Each rule's index in the request, for the server's per-field details.
      const rules = [];
      days.forEach((input, weekday) => {
        input.removeAttribute("data-field");
        for (const interval of parseIntervals(input.value)) {
          if (!input.dataset.field) input.dataset.field = `rules.${rules.length}.start`;
          rules.push({ weekday, ...interval });
        }
      });
      fill(await rest.putAvailability({ timezone: zone.value.trim(), rules }));
      saved.textContent = "Weekly hours saved.";
      onSaved();
    }, weekly);
  });

  const date = el("input", { id: "override-date", type: "date", required: true, "data-field": "day" });
  const other = el("input", { id: "override-hours", placeholder: "empty: a day off", autocomplete: "off", "data-field": "intervals" });
  const put = el("button", { type: "submit" }, "Save this date");
  const remove = el("button", { type: "button" }, "Back to weekly hours");
  const overrideSaved = el("p", { class: "note", "aria-live": "polite" });
  const overrideError = errorBox("override-error");
  const override = el("form", { id: "override-form", "aria-labelledby": "override-title" },
    el("h2", { id: "override-title" }, "Other hours on one date"),
    el("div", { class: "row" }, el("label", { for: "override-date" }, "Date"), date),
    el("div", { class: "row" }, el("label", { for: "override-hours" }, "Hours"), other),
    el("div", { class: "row" }, put, remove), overrideError, overrideSaved,
  );
  override.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(put, overrideError, async () => {
      const answer = await rest.putOverride(date.value, parseIntervals(other.value));
      overrideSaved.textContent = answer.intervals.length
        ? `${answer.date}: ${showIntervals(answer.intervals)}.` : `${answer.date}: a day off.`;
      onSaved();
    }, override);
  });
  remove.addEventListener("click", () => busy(remove, overrideError, async () => {
    if (!date.value) throw new Error("Choose the date first.");
    await rest.deleteOverride(date.value);
    overrideSaved.textContent = `${date.value}: back to the weekly hours.`;
    onSaved();
  }, override));

  function fill(availability) {
    zone.value = availability.timezone;
    days.forEach((input, weekday) => {
      input.value = showIntervals(availability.rules.filter((r) => r.weekday === weekday));
    });
  }

  async function load() {
    await busy(save, error, async () => fill(await rest.getAvailability()));
  }

  return { root: el("section", { class: "card hours" }, weekly, override), load };
}
