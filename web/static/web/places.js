// Where a lesson happens (docs/bookings.md): the inputs of the student's booking form
// (a meeting point, or the student's address, sent with POST /bookings) and the line a
// lesson list shows from a booking's `place`. Only the booking's two people see a place.
import { el, errorBox } from "./ui.js";

// The field of POST /bookings per location type that takes a text.
const PLACE_INPUTS = {
  neutral_location: { field: "meeting_point", id: "meeting-point", label: "Meeting point",
    hint: "Where you will meet, e.g. a café or a park entrance. Optional: you can also agree on it in the chat." },
  student_location: { field: "address", id: "student-address", label: "Your address", autocomplete: "street-address",
    hint: "Only your instructor sees it, in this lesson." },
};
const AT_INSTRUCTOR = "The instructor's address is shown in the lesson once it is booked.";

/** An input per location type that takes a place; only the chosen type's is shown. */
export function placeInputs() {
  const inputs = {};
  const rows = Object.entries(PLACE_INPUTS).map(([type, spec]) => {
    inputs[type] = el("input", { id: spec.id, name: spec.field, "data-field": spec.field, maxlength: 300,
      autocomplete: spec.autocomplete ?? "off", "aria-describedby": `${spec.id}-hint` });
    return el("div", { class: "place-input", dataset: { type }, hidden: true },
      el("div", { class: "row" }, el("label", { for: spec.id }, spec.label), inputs[type]),
      el("p", { class: "hint", id: `${spec.id}-hint` }, spec.hint));
  });
  const atInstructor = el("p", { class: "hint", hidden: true }, AT_INSTRUCTOR);
  const error = errorBox("place-error");
  return {
    root: el("div", { id: "place" }, rows, atInstructor, error),
    error,
    show(type) {
      for (const row of rows) row.hidden = row.dataset.type !== type;
      atInstructor.hidden = type !== "instructor_location";
    },
    /** {meeting_point} or {address} for the chosen type, when one was typed. */
    fields(type) {
      const text = inputs[type]?.value.trim();
      return text ? { [PLACE_INPUTS[type].field]: text } : {};
    },
    input: (type) => inputs[type] ?? null,
  };
}

export const placeProblem = (error) =>
  Boolean(error?.details && typeof error.details === "object" && ("meeting_point" in error.details || "address" in error.details));

// A booking's `place` ({kind, text}; null online) in the words of each side.
const PLACE_WORDS = {
  student: { student_location: "At your place", instructor_location: "At the instructor's place" },
  instructor: { student_location: "At the student's place", instructor_location: "At your place" },
};
const PLACE_SHARED = { neutral_location: "Meeting point", online: "Online" };

export function placeLine(booking, role) {
  const place = booking.place && typeof booking.place === "object" ? booking.place : null;
  const kind = place?.kind ?? booking.location_type;
  const words = PLACE_WORDS[role]?.[kind] ?? PLACE_SHARED[kind] ?? String(kind ?? "").replaceAll("_", " ");
  if (!words) return null;
  const text = typeof place?.text === "string" ? place.text : "";
  const tail = !place || text ? (text && `: ${text}`) : " (not given yet: agree on it in the chat)";
  return el("p", { class: "place" }, `Where: ${words}`, tail);
}
