// Every REST call the page makes, each a named function holding its literal path:
// tests/test_webapp_contract.py reads `api("METHOD", "/api/v1/…")` here and checks it
// against /api/v1/openapi.json, so the page cannot drift from the server.

// The session cookie signs the page in; unsafe methods also carry the CSRF token our
// own HTML gave it (a cross-site request has the cookie but not this token).
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** An answer in the API's error shape, or no answer at all (status 0, code "network"). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

/** One request; resolves with the parsed JSON (null for 204), throws ApiError. */
export async function api(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken(), ...headers },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `The server answered ${response.status} ${response.statusText}.`,
      error?.details,
    );
  }
  return data;
}

// Query strings without empty values.
const query = (params) =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();

export const getMe = () => api("GET", "/api/v1/me");
export const findInstructors = (q) => api("GET", `/api/v1/instructors?${query({ q, limit: 50 })}`);
export const getInstructor = (id) => api("GET", `/api/v1/instructors/${id}`);
export const getMyProfile = () => api("GET", "/api/v1/instructors/me");
export const updateMyProfile = (fields) => api("PATCH", "/api/v1/instructors/me", fields);
export const getSlots = (instructorId, params) =>
  api("GET", `/api/v1/instructors/${instructorId}/slots?${query(params)}`);
export const createBooking = (body, idempotencyKey) =>
  api("POST", "/api/v1/bookings", body, { "Idempotency-Key": idempotencyKey });
export const listBookings = (params = {}) => api("GET", `/api/v1/bookings?${query({ limit: 200, ...params })}`);
export const getBooking = (id) => api("GET", `/api/v1/bookings/${id}`);
export const cancelBooking = (id, reason) => api("POST", `/api/v1/bookings/${id}/cancel`, { reason });
export const rescheduleBooking = (id, start) => api("POST", `/api/v1/bookings/${id}/reschedule`, { start });
export const getCredits = () => api("GET", "/api/v1/credits");
export const getAvailability = () => api("GET", "/api/v1/instructors/me/availability");
export const putAvailability = (body) => api("PUT", "/api/v1/instructors/me/availability", body);
export const putOverride = (date, intervals) =>
  api("PUT", `/api/v1/instructors/me/availability/overrides/${date}`, { intervals });
export const deleteOverride = (date) => api("DELETE", `/api/v1/instructors/me/availability/overrides/${date}`);
export const startPayoutOnboarding = () => api("POST", "/api/v1/instructors/me/payouts/onboarding");
export const listNotifications = (params = {}) =>
  api("GET", `/api/v1/notifications?${query({ limit: 20, order: "unread_first", ...params })}`);
export const readNotifications = (body) => api("POST", "/api/v1/notifications/read", body);
export const getNotificationSettings = () => api("GET", "/api/v1/me/notification-settings");
export const putNotificationSettings = (email) => api("PUT", "/api/v1/me/notification-settings", { email });
