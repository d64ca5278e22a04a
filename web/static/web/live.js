// The live connection's part of the page: the offline banner, and keys for requests
// that must not happen twice.

/** A fresh random key (an Idempotency-Key per click); crypto.randomUUID needs https. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Show the banner while the socket is down; hide it once online. */
export function bannerFor(banner) {
  let final = false;
  let dropped = false; // the first "connecting" of the page is not news
  return (state, detail = {}) => {
    if (final) return;
    if (state === "offline") dropped = true;
    if (state === "connecting" && !dropped) return;
    if (state === "online") {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    if (state === "offline" && detail.final) {
      final = true;
      banner.textContent = detail.code === 4001
        ? "You are signed out (the session ended). Reload the page to sign in again."
        : "The live connection was refused. Reload the page to try again.";
    } else {
      banner.textContent = "Offline: live updates are paused. Reconnecting…";
    }
    banner.hidden = false;
  };
}
