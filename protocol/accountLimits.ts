/**
 * Constants of the accounts HTTP API that clients need at run time. Kept apart from the schemas in
 * accounts.ts so the browser SDK can import them without bundling zod.
 */

/** Most numbers one contact lookup may carry. */
export const MAX_CONTACT_LOOKUP = 500;

/** CODE_INVALID answers say in `details.attemptsLeft` how many tries are left before the number locks. */
export const ATTEMPTS_LEFT_DETAIL = 'attemptsLeft';
