/**
 * Constants of the accounts HTTP API that clients need at run time. Kept apart from the schemas in
 * accounts.ts so the browser SDK can import them without bundling zod.
 */

/** Most numbers one contact lookup may carry. */
export const MAX_CONTACT_LOOKUP = 500;

/** CODE_INVALID answers say in `details.attemptsLeft` how many tries are left before the number locks. */
export const ATTEMPTS_LEFT_DETAIL = 'attemptsLeft';

/**
 * Sent on sign-in, registration, refresh and sign-out by a first-party web page: keep the refresh token
 * in an HttpOnly, SameSite=Strict cookie instead of the JSON answer. Also the CSRF check of a refresh by
 * cookie (a cross-site request cannot add a custom header without a CORS preflight).
 */
export const SESSION_MODE_HEADER = 'X-Calling-Session';
/** The refresh-token cookie's name (Path=/api/v1/auth). */
export const REFRESH_COOKIE_NAME = 'calling_refresh';
