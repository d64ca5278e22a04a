// The card step of the Stripe backend, kept apart from everything else: only a
// booking answered with status pending_payment and a client_secret gets here, and
// only when the server gave the page a publishable key (the CSP then allows
// js.stripe.com). The outcome arrives live as payment.* / booking.* events.
import { el, errorBox, showError } from "./ui.js";

const STRIPE_JS = "https://js.stripe.com/v3/";

function loadStripe() {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  return new Promise((resolve, reject) => {
    const script = el("script", { src: STRIPE_JS });
    script.addEventListener("load", () => resolve(window.Stripe));
    script.addEventListener("error", () => reject(new Error("Stripe.js could not be loaded; the card step is unavailable.")));
    document.head.append(script);
  });
}

export async function startCardStep(container, { publishableKey, clientSecret }) {
  const error = errorBox("card-error");
  const mount = el("div", { id: "payment-element" });
  const pay = el("button", { type: "submit", class: "primary" }, "Pay");
  const form = el("form", { id: "card-step", "aria-label": "Pay by card" }, el("h3", {}, "Pay by card"), mount, pay, error);
  container.append(form);
  if (!publishableKey) {
    showError(error, new Error("Card payments are not set up on this server (no STRIPE_PUBLISHABLE_KEY)."));
    pay.disabled = true;
    return;
  }
  try {
    const stripe = (await loadStripe())(publishableKey);
    const elements = stripe.elements({ clientSecret });
    elements.create("payment").mount(mount);
    // A lesson far ahead saves the card (a SetupIntent, seti_…); nearer, it is authorised.
    const confirm = (options) =>
      clientSecret.startsWith("seti_") ? stripe.confirmSetup(options) : stripe.confirmPayment(options);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      pay.disabled = true;
      const { error: refused } = await confirm({ elements, redirect: "if_required", confirmParams: { return_url: location.href } });
      pay.disabled = false;
      if (refused) showError(error, refused);
      else form.replaceChildren(el("p", { "aria-live": "polite" }, "Card accepted; the booking confirms in a moment."));
    });
  } catch (failure) {
    showError(error, failure);
    pay.disabled = true;
  }
}
