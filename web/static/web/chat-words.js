/**
 * chat-words.js: small helpers of the chat panel: building elements (never innerHTML, so
 * a message body can never become markup) and putting errors and times into words.
 */

/** The most a message body may hold (docs/chat.md), checked before sending so the person
 *  hears it at once instead of after a round trip. */
export const MAX_BODY = 4000;

/** `el("li", {class: "x", dataset: {id: 1}}, child, "text")`: attributes, then children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function seconds(value) {
  const n = Math.max(1, Math.ceil(Number(value) || 1));
  return n === 1 ? "1 second" : `${n} seconds`;
}

/**
 * An error of hub.js (HubError: code, message, retry_after) or of the page's `api`
 * (code, message, details, status), as one sentence for the person.
 */
export function describeError(error) {
  const code = error?.code;
  const retry = error?.retry_after ?? error?.details?.retry_after;
  if (code === "rate_limited") {
    return retry ? `You are sending too fast. Try again in ${seconds(retry)}.`
      : "You are sending too fast. Wait a moment and try again.";
  }
  if (code === "invalid" || code === "bad_request") {
    const details = error.details && typeof error.details === "object"
      ? Object.values(error.details).flat().filter((d) => typeof d === "string") : [];
    return `Not accepted: ${details.length ? details.join("; ") : error.message}`;
  }
  if (code === "unavailable") return `The server is busy. Try again in ${seconds(retry || 2)}.`;
  if (code === "offline" || code === "closed" || code === "timeout" || code === "network") {
    return "No connection to the server. Check your connection and try again.";
  }
  if (code === "not_found") return "This conversation or message no longer exists.";
  if (code === "forbidden") return "You may not do that here.";
  if (code === "conflict") return `That is no longer possible: ${error.message}`;
  return error?.message ? `Something went wrong: ${error.message}` : "Something went wrong.";
}

/** A body the server would refuse for its length, in words; null when it is fine. */
export function bodyProblem(body) {
  const length = body.trim().length;
  if (!length) return "Write something first.";
  if (length > MAX_BODY) {
    return `The message is too long: ${length.toLocaleString("en")} characters, at most ${MAX_BODY.toLocaleString("en")}.`;
  }
  return null;
}

/** "09:30" today, "3 Dec, 09:30" on another day, in the person's own time zone. */
export function when(iso) {
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay ? time : `${date.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}
