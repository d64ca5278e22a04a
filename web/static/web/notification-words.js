// What a notification says and what it leads to, from its `kind` and `data`. The data
// comes from many places (and kinds may be added later), so every field is checked:
// one that is missing or of another type is left out, an unknown kind gets a plain line.
import { momentLabel } from "./calendar.js";

const KIND_LABELS = {
  booking_confirmed: "A lesson is confirmed",
  booking_cancelled: "A lesson is cancelled",
  booking_rescheduled: "A lesson is moved",
  booking_expired: "An unpaid booking expired",
  payment_failed: "A payment needs attention",
  lesson_reminder: "A lesson is coming up",
  message: "New messages",
  export_ready: "A data export is ready",
};
export const kindLabel = (kind) => KIND_LABELS[kind] ?? String(kind).replaceAll("_", " ");

const BOOKING_KINDS = new Set([
  "booking_confirmed", "booking_cancelled", "booking_rescheduled", "booking_expired",
  "payment_failed", "lesson_reminder",
]);

const text = (value) => (typeof value === "string" ? value.trim() : "");
const id = (value) => (Number.isSafeInteger(value) && value > 0 ? value : null);
const dataOf = (notification) =>
  notification?.data && typeof notification.data === "object" && !Array.isArray(notification.data)
    ? notification.data : {};

// "Piano with Ida Keys, Tue 3 Jun, 10:00" (each part only when the data has it).
function lesson(data, tz, at = ", ") {
  const name = text(data.with?.name);
  const when = momentLabel(data.start, tz);
  return `${text(data.service) || "Your lesson"}${name ? ` with ${name}` : ""}${when ? `${at}${when}` : ""}`;
}

/** {title, detail?}: the line shown for a notification, in the person's zone `tz`. */
export function describe(notification, tz) {
  const data = dataOf(notification);
  const reason = text(data.reason) === "payment_failed" ? "the payment did not go through" : text(data.reason);
  switch (notification?.kind) {
    case "booking_confirmed":
      return { title: `Confirmed: ${lesson(data, tz)}` };
    case "booking_cancelled":
      return { title: `Cancelled: ${lesson(data, tz)}`, detail: reason && `Reason: ${reason}` };
    case "booking_rescheduled":
      return { title: `Moved: ${lesson(data, tz, " to ")}`, detail: reason && `Reason: ${reason}` };
    case "booking_expired":
      return { title: `Expired unpaid: ${lesson(data, tz)}` };
    case "payment_failed": {
      const payBy = momentLabel(data.pay_by, tz);
      const cancelled = data.status === "cancelled" ? "The booking was cancelled." : "";
      return { title: `Payment failed: ${lesson(data, tz)}`, detail: payBy ? `Pay by ${payBy} to keep the lesson.` : cancelled };
    }
    case "lesson_reminder":
      return { title: `Coming up: ${lesson(data, tz)}` };
    case "message": {
      const sender = text(data.sender?.name);
      return { title: sender ? `New messages from ${sender}` : "New messages" };
    }
    case "export_ready": {
      const until = momentLabel(data.expires_at, tz);
      return { title: "Your data export is ready", detail: until && `Download it by ${until}.` };
    }
    default:
      return { title: "Something new in your account" };
  }
}

/** Where the notification leads: {conversationId, userId}, {bookingId}, {exportId} or null. */
export function target(notification) {
  const data = dataOf(notification);
  if (notification?.kind === "message") {
    const conversationId = id(data.conversation_id);
    const userId = id(data.sender?.id);
    return conversationId || userId ? { conversationId, userId } : null;
  }
  if (BOOKING_KINDS.has(notification?.kind) && id(data.booking_id)) return { bookingId: data.booking_id };
  if (notification?.kind === "export_ready" && id(data.export_id)) return { exportId: data.export_id };
  return null;
}
