// The page at `/` for a signed-in person: who they are (GET /api/v1/me), the live
// connection (hub.js, signed in by the session cookie), their role's view, the
// notifications bell, and the chat panel when chat.js is there (the page works without it).
import * as rest from "./api.js";
import { Hub } from "./hub.js";
import { mountInstructor } from "./instructor.js";
import { bannerFor } from "./live.js";
import { mountNotifications } from "./notifications.js";
import { mountStudent } from "./student.js";
import { el, errorBox, showError } from "./ui.js";

const main = document.getElementById("main");
const calendar = document.getElementById("calendar");
const banner = document.getElementById("banner");

async function start() {
  let me;
  try {
    me = await rest.getMe();
  } catch (error) {
    const box = errorBox("page-error");
    calendar.replaceChildren(box);
    showError(box, error);
    return;
  }
  const onState = bannerFor(banner);
  const hub = new Hub(null, { cookie: true }, { onState });
  let view = null;
  try {
    await hub.connect();
  } catch (error) {
    onState("offline", { final: true, code: hub.closeCode });
    banner.append(el("span", {}, ` (${error.message})`));
  }
  const mount = me.role === "instructor" ? mountInstructor : mountStudent;
  view = mount(calendar, { hub: hub.state === "online" ? hub : null, me, stripeKey: main.dataset.stripeKey });
  const notes = mountNotifications(document.getElementById("notifications"), {
    me, showLesson: (bookingId) => view.reveal(bookingId),
  });
  if (hub.state === "online") {
    // Bookings, payments and notifications of this person, from any tab, device or the other party.
    hub.subscribe(`user:${me.id}`, (event) => { view.onEvent(event); notes.onEvent(event); },
      { onResync: () => { view.resync(); notes.resync(); } })
      .catch((error) => onState("offline", { final: true, code: error.code }));
  }
  view.start();
  mountChat(hub, me);
}

// chat.js is built separately; without it (or if it fails) the calendar still works.
async function mountChat(hub, me) {
  const section = document.getElementById("chat");
  try {
    const chat = await import("./chat.js");
    await chat.mountChat(section, { hub, api: rest.api, me });
  } catch (error) {
    console.warn("The chat panel is not available:", error);
    section.hidden = true;
  }
}

start();
