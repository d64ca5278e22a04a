// Small DOM helpers shared by the page's modules: building elements, showing an API
// error in words next to what caused it, and disabling a button while it works.

/** el("button", {class: "x", onclick}, "text", child…): attributes, listeners, children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** An element that shows errors (role=alert, so screen readers read it out at once). */
export function errorBox(id) {
  return el("div", { id, class: "error", role: "alert", hidden: true });
}

/** Show an error's message and, per field, its details; mark the matching inputs. */
export function showError(box, error, form = null) {
  box.replaceChildren(el("p", {}, error.message || String(error)));
  const details = error.details && typeof error.details === "object" ? error.details : null;
  if (details && !Array.isArray(details)) {
    const items = Object.entries(details).map(([field, problem]) =>
      el("li", {}, `${fieldName(field)}: ${typeof problem === "string" ? problem : JSON.stringify(problem)}`),
    );
    if (items.length) box.append(el("ul", {}, items));
    for (const field of Object.keys(details)) {
      const input = form?.querySelector(`[data-field="${CSS.escape(field)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
  }
  if (error.retry_after) box.append(el("p", {}, `Try again in ${Math.ceil(error.retry_after)} s.`));
  box.hidden = false;
}

export function clearError(box, form = null) {
  box.hidden = true;
  box.replaceChildren();
  form?.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
}

// "rules.0.start" reads better as "rules 1 start".
const fieldName = (path) => path.split(".").map((p) => (/^\d+$/.test(p) ? String(Number(p) + 1) : p)).join(" ");

/** Run `action` with `button` disabled (no double submit); errors go to `box`. */
export async function busy(button, box, action, form = null) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (box) clearError(box, form);
  try {
    return await action();
  } catch (error) {
    if (!box) throw error;
    showError(box, error, form);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export function money(cents, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
}
