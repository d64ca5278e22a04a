// The student's view: find an instructor and a lesson, a week of free times in the
// student's own zone, book one, and follow "my lessons" live (pending → confirmed).
import * as rest from "./api.js";
import { addDays, renderWeek, statusWords, weekNav, whenLabel } from "./calendar.js";
import { newKey } from "./live.js";
import { startCardStep } from "./payment.js";
import { busy, clearError, el, errorBox, money, showError } from "./ui.js";
import { lessonList } from "./lessons.js";
import { placeInputs, placeProblem } from "./places.js";

const PLACES = {
  online: "Online",
  student_location: "At my place",
  instructor_location: "At the instructor's place",
  neutral_location: "Somewhere neutral",
};

export function mountStudent(root, { hub, me, stripeKey }) {
  const tz = me.timezone;
  const state = { instructor: null, slots: [], chosen: null, moving: null, followed: null, loads: 0 };

  const q = el("input", { id: "q", type: "search", name: "q", autocomplete: "off", "data-field": "q" });
  const findButton = el("button", { type: "submit" }, "Search");
  const findError = errorBox("find-error");
  const instructorList = el("ul", { id: "instructors", class: "choices" });
  const serviceSelect = el("select", { id: "service", onchange: () => { showPlaces(); loadSlots(); } });
  const place = placeInputs();
  const placeSelect = el("select", { id: "location", onchange: () => { clearError(place.error, finder); place.show(placeSelect.value); } });
  // Talk to the instructor on show, in the chat panel beside the calendar.
  const messageError = errorBox("message-error");
  const messageButton = el("button", { type: "button", id: "message-button", hidden: true, onclick: () => message() });
  const messageRow = el("div", { class: "row" }, messageButton, messageError);
  const finder = el("form", { id: "find", role: "search", onsubmit: (e) => { e.preventDefault(); search(); } },
    el("label", { for: "q" }, "Find an instructor (name or lesson)"),
    el("div", { class: "row" }, q, findButton), findError, instructorList,
    el("div", { class: "row" }, el("label", { for: "service" }, "Lesson"), serviceSelect),
    el("div", { class: "row" }, el("label", { for: "location" }, "Where"), placeSelect),
    place.root,
    messageRow,
  );

  const weekError = errorBox("week-error");
  const week = el("div", { id: "week" });
  const moveNote = el("p", { id: "move-note", class: "note", hidden: true });
  const panel = el("div", { id: "book-panel", class: "card", hidden: true });
  const nav = weekNav(tz, () => loadSlots());
  const lessons = lessonList({ me, tz, onMove: startMove, onChange: () => { loadSlots(); loadCredits(); } });
  const credits = el("p", { id: "credits", "aria-live": "polite" });

  root.replaceChildren(
    finder,
    el("section", { class: "week-section", "aria-labelledby": "week-title" }, nav.nav, moveNote, weekError, week, panel),
    el("section", { "aria-labelledby": "lessons-title" },
      el("h2", { id: "lessons-title" }, "My lessons"), credits, lessons.root),
  );

  async function message() {
    await busy(messageButton, messageError, async () => {
      const chat = await import("./chat.js");
      await chat.openConversationWith(state.instructor.id);
      document.getElementById("chat")?.scrollIntoView({ block: "nearest" });
    });
  }

  async function search() {
    await busy(findButton, findError, async () => {
      const page = await rest.findInstructors(q.value.trim());
      showInstructors(page.items);
      if (!page.items.length) return;
      if (!page.items.some((i) => i.id === state.instructor?.id)) choose(page.items[0]);
    }, finder);
  }

  function showInstructors(items) {
    instructorList.replaceChildren(...(items.length ? items.map((instructor) => el("li", {},
      el("button", {
        type: "button", class: "choice", "aria-pressed": String(instructor.id === state.instructor?.id),
        dataset: { instructor: instructor.id }, onclick: () => { choose(instructor); showInstructors(items); },
      }, instructor.name, el("span", { class: "muted" }, ` · ${instructor.services.map((s) => s.name).join(", ") || "no lessons yet"}`)),
    )) : [el("li", { class: "muted" }, "No instructor matches.")]));
  }

  function choose(instructor, serviceId = null) {
    state.instructor = instructor;
    messageButton.textContent = `Message ${instructor.name}`;
    messageButton.hidden = false;
    serviceSelect.replaceChildren(...instructor.services.map((s) => el("option", { value: s.id },
      `${s.name}, ${s.duration_minutes} min, ${money(s.price_cents, s.currency)}`)));
    if (serviceId) serviceSelect.value = String(serviceId);
    showPlaces();
    follow(`availability:${instructor.id}`);
    closePanel();
    loadSlots();
  }

  // The chosen lesson's location types, keeping the one chosen when it is still offered.
  function showPlaces() {
    const chosen = placeSelect.value;
    const types = currentService()?.location_types ?? [];
    placeSelect.replaceChildren(...types.map((t) => el("option", { value: t }, PLACES[t] ?? t)));
    if (types.includes(chosen)) placeSelect.value = chosen;
    place.show(placeSelect.value);
  }

  const currentService = () => state.instructor?.services.find((s) => String(s.id) === serviceSelect.value) ?? null;

  // One availability topic at a time: the instructor on show.
  function follow(topic) {
    if (!hub || state.followed === topic) return;
    if (state.followed) hub.unsubscribe(state.followed).catch(() => {});
    state.followed = topic;
    hub.subscribe(topic, (event) => { if (event.type === "availability.changed") loadSlots(); }, { onResync: () => loadSlots() })
      .catch((error) => showError(weekError, error));
  }

  async function loadSlots() {
    const service = currentService();
    const monday = nav.monday();
    const load = ++state.loads; // a slower earlier answer must not overwrite a newer one
    if (!service) { renderWeek(week, { monday, tz, entries: [], empty: "Choose an instructor and a lesson" }); return; }
    try {
      const answer = await rest.getSlots(state.instructor.id, { service_id: service.id, start: monday, end: addDays(monday, 6), tz });
      if (load !== state.loads) return;
      weekError.hidden = true;
      state.slots = answer.slots;
      renderWeek(week, { monday, tz, entries: answer.slots.map((slot) => ({ ...slot, kind: "slot", text: state.moving ? "move here" : "free", onClick: () => openPanel(slot) })) });
    } catch (error) {
      if (load === state.loads) showError(weekError, error);
    }
  }

  function closePanel() { panel.hidden = true; panel.replaceChildren(); state.chosen = null; }

  // The chosen time stays on offer here even if the calendar drops it meanwhile: the
  // server's answer (409 when it was just taken) is what the person gets to read.
  function openPanel(slot) {
    state.chosen = slot;
    const service = currentService();
    const error = errorBox("book-error");
    const moving = state.moving;
    const action = el("button", { type: "button", id: moving ? "move-button" : "book-button", class: "primary" },
      moving ? "Move my lesson here" : "Book this lesson");
    action.addEventListener("click", () => busy(action, error, () => (moving ? move(moving, slot) : book(service, slot))));
    const outcome = el("p", { id: "book-outcome", "aria-live": "polite" });
    panel.replaceChildren(
      el("p", {}, moving
        ? `Move ${moving.service.name} to ${whenLabel(slot.start, slot.end, tz)}?`
        : `${service.name} with ${state.instructor.name}, ${whenLabel(slot.start, slot.end, tz)}, ${money(service.price_cents, service.currency)}`),
      el("div", { class: "row" }, action, el("button", { type: "button", onclick: closePanel }, "Close")),
      error, outcome,
    );
    panel.hidden = false;
    action.focus();
  }

  // A refused place is shown next to its input, which gets the focus; other errors by the button.
  async function book(service, slot) {
    const type = placeSelect.value;
    clearError(place.error, finder);
    let booking;
    try {
      booking = await rest.createBooking(
        { service_id: service.id, start: slot.start, location_type: type, ...place.fields(type) }, newKey());
    } catch (failure) {
      if (!placeProblem(failure)) throw failure;
      showError(place.error, failure, finder);
      place.input(type)?.focus();
      return;
    }
    lessons.upsert(booking);
    const outcome = panel.querySelector("#book-outcome");
    outcome.dataset.booking = booking.id;
    outcome.textContent = `Booked: ${statusWords(booking.status)}.`;
    panel.querySelector("#book-button")?.remove();
    if (booking.status === "pending_payment" && booking.payment?.client_secret) {
      startCardStep(panel, { publishableKey: stripeKey, clientSecret: booking.payment.client_secret });
    }
    loadSlots();
    loadCredits();
  }

  async function move(booking, slot) {
    lessons.upsert(await rest.rescheduleBooking(booking.id, slot.start));
    stopMove();
    closePanel();
    loadSlots();
  }

  async function startMove(booking) {
    state.moving = booking;
    moveNote.replaceChildren(`Pick a new time for ${booking.service.name} (${whenLabel(booking.start, booking.end, tz)}). `,
      el("button", { type: "button", onclick: stopMove }, "Stop moving"));
    moveNote.hidden = false;
    if (state.instructor?.id !== booking.instructor.id || currentService()?.id !== booking.service.id) {
      try { choose(await rest.getInstructor(booking.instructor.id), booking.service.id); } catch (error) { showError(weekError, error); }
    } else loadSlots();
    week.querySelector("button.slot")?.focus();
  }

  function stopMove() { state.moving = null; moveNote.hidden = true; closePanel(); loadSlots(); }

  async function loadCredits() {
    try {
      const answer = await rest.getCredits();
      credits.textContent = answer.balances.length
        ? `Your credit: ${answer.balances.map((b) => money(b.amount_cents, b.currency)).join(", ")} (used first when you book)`
        : "No credit.";
    } catch (error) { credits.textContent = `Credit unknown: ${error.message}`; }
  }

  // A booking's changes come live on the student's own topic, from any tab or device.
  function onEvent(event) {
    lessons.onEvent(event);
    const outcome = panel.querySelector("#book-outcome");
    const id = event.type.startsWith("booking.") ? event.data.id : event.data.booking_id;
    if (outcome && String(id) === outcome.dataset.booking && event.type.startsWith("booking.")) {
      outcome.textContent = `Booked: ${statusWords(event.data.status)}.`;
    }
    if (event.type.startsWith("payment.")) loadCredits();
  }

  return {
    onEvent,
    reveal: lessons.reveal,
    resync: () => { lessons.reload(); loadSlots(); loadCredits(); },
    start: () => { search(); lessons.reload(); loadCredits(); },
  };
}
