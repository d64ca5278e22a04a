// The instructor's view: the same week with booked lessons and free times, live
// (a lesson appears the instant it is booked, and goes when it is cancelled);
// the profile (address, bio), weekly hours, date overrides and payout onboarding.
import * as rest from "./api.js";
import { addDays, localParts, renderWeek, weekNav } from "./calendar.js";
import { hoursEditor } from "./hours.js";
import { HOLDING, lessonList } from "./lessons.js";
import { profileEditor } from "./profile.js";
import { busy, el, errorBox, showError } from "./ui.js";

export function mountInstructor(root, { hub, me }) {
  const tz = me.timezone;
  const state = { profile: null, slots: [], loads: 0 };
  const serviceSelect = el("select", { id: "service", onchange: () => loadSlots() });
  const weekError = errorBox("week-error");
  const week = el("div", { id: "week" });
  const nav = weekNav(tz, () => loadSlots());
  const lessons = lessonList({ me, tz, onChange: () => { drawWeek(); loadSlots(); } });
  const payouts = payoutBox();
  const hours = hoursEditor({ tz, onSaved: () => loadSlots() });
  const profile = profileEditor();

  root.replaceChildren(
    el("section", { class: "week-section", "aria-labelledby": "week-title" },
      nav.nav, el("div", { class: "row" }, el("label", { for: "service" }, "Free times for"), serviceSelect),
      weekError, week),
    el("section", { "aria-labelledby": "lessons-title" }, el("h2", { id: "lessons-title" }, "Lessons"), lessons.root),
    profile.root,
    hours.root,
    payouts.root,
  );

  // Lessons of the shown week next to the free times left around them.
  function drawWeek() {
    const monday = nav.monday();
    const sunday = addDays(monday, 6);
    const inWeek = (instant) => { const { date } = localParts(instant, tz); return date >= monday && date <= sunday; };
    const booked = lessons.all().filter((b) => HOLDING.has(b.status) && inWeek(b.start)).map((b) => ({
      start: b.start, end: b.end, kind: "lesson", id: b.id, status: b.status,
      text: `${b.service.name} · ${b.student.name}`,
    }));
    const free = state.slots.map((slot) => ({ ...slot, kind: "slot", text: "free", onClick: null }));
    renderWeek(week, { monday, tz, entries: [...booked, ...free], empty: "Nothing this day" });
    week.querySelectorAll("button.slot").forEach((b) => b.setAttribute("aria-disabled", "true"));
  }

  async function loadSlots() {
    const service = state.profile?.services.find((s) => String(s.id) === serviceSelect.value);
    const monday = nav.monday();
    const load = ++state.loads;
    if (!service) { state.slots = []; drawWeek(); return; }
    try {
      const answer = await rest.getSlots(me.id, { service_id: service.id, start: monday, end: addDays(monday, 6), tz });
      if (load !== state.loads) return;
      weekError.hidden = true;
      state.slots = answer.slots;
      drawWeek();
    } catch (error) {
      if (load === state.loads) showError(weekError, error);
    }
  }

  async function loadProfile() {
    try {
      state.profile = await rest.getMyProfile();
      const services = state.profile.services;
      serviceSelect.replaceChildren(...(services.length
        ? services.map((s) => el("option", { value: s.id }, `${s.name}, ${s.duration_minutes} min`))
        : [el("option", { value: "" }, "No lessons offered yet (add one with POST /api/v1/instructors/me/services)")]));
      payouts.show(state.profile.payouts_ready);
      profile.fill(state.profile);
      loadSlots();
    } catch (error) {
      showError(weekError, error);
    }
  }

  function onEvent(event) {
    lessons.onEvent(event);
    if (event.type.startsWith("booking.")) drawWeek();
  }

  function start() {
    loadProfile();
    lessons.reload().then(drawWeek);
    hours.load();
    // Free times change with every booking, cancel and edit of the hours, from anywhere.
    hub?.subscribe(`availability:${me.id}`, (event) => { if (event.type === "availability.changed") loadSlots(); },
      { onResync: () => loadSlots() }).catch((error) => showError(weekError, error));
  }

  return { onEvent, start, reveal: lessons.reveal, resync: () => { lessons.reload().then(drawWeek); loadSlots(); } };
}

function payoutBox() {
  const status = el("p", { id: "payout-status" });
  const button = el("button", { type: "button", id: "payout-button" }, "Set up payouts");
  const error = errorBox("payout-error");
  button.addEventListener("click", () => busy(button, error, async () => {
    const { url } = await rest.startPayoutOnboarding();
    window.location.assign(url); // the provider's onboarding, which sends the instructor back here
  }));
  const root = el("section", { "aria-labelledby": "payouts-title", class: "card" },
    el("h2", { id: "payouts-title" }, "Payouts"), status, button, error);
  return {
    root,
    show: (ready) => {
      status.textContent = ready ? "Your payout account is ready." : "Set up a payout account to be paid for lessons.";
      button.textContent = ready ? "Update payout details" : "Set up payouts";
    },
  };
}
