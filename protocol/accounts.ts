/**
 * The accounts HTTP API (docs/accounts-api.md) as zod schemas, shared by the server's routes
 * (server/routes/accountRoutes.ts validates requests with them and types its answers by them) and
 * the SDK's AccountClient (which validates answers with them). A field renamed on one side fails to
 * compile or to parse on the other, as with protocol/signaling.ts for the WebSocket.
 */
import { z } from 'zod';
import { MAX_CONTACT_LOOKUP } from './accountLimits.js';

export { ATTEMPTS_LEFT_DETAIL, MAX_CONTACT_LOOKUP } from './accountLimits.js';

// ---- requests ----------------------------------------------------------------------------------------

const phone = z.string().trim().min(3).max(32);
const name = z.string().trim().min(1, 'must not be empty').max(64);
const deviceLabel = z.string().trim().min(1).max(64).optional();

export const accountRequests = {
  /** POST /auth/code */
  code: z.object({ phone }),
  /** POST /auth/verify */
  verify: z.object({ phone, code: z.string().regex(/^\d{6}$/, 'must be 6 digits'), deviceLabel }),
  /** POST /auth/register */
  register: z.object({ registrationToken: z.string().min(16).max(128), name, deviceLabel }),
  /**
   * POST /auth/refresh. Without `refreshToken` the token comes from the HttpOnly cookie, which counts
   * only with the `X-Calling-Session: cookie` header (SESSION_MODE_HEADER in accountLimits.ts).
   */
  refresh: z.object({ refreshToken: z.string().min(16).max(256).optional() }),
  /** PATCH /me */
  rename: z.object({ name }),
  /** POST /contacts/lookup */
  contacts: z.object({ phones: z.array(z.string().max(32)).max(MAX_CONTACT_LOOKUP) }),
};

export type AccountRequest = { [K in keyof typeof accountRequests]: z.input<(typeof accountRequests)[K]> };

// ---- answers -----------------------------------------------------------------------------------------

export const userPhotoSchema = z.object({
  /** 512 px WebP; needs the Bearer token. */
  url: z.string(),
  /** 96 px WebP thumbnail; same rules. */
  thumbUrl: z.string(),
  etag: z.string(),
});

export const userSchema = z.object({
  userId: z.string(),
  name: z.string(),
  /** E.164; only in your own profile. */
  phone: z.string().optional(),
  photo: userPhotoSchema.nullable(),
  createdAt: z.number(),
});

export const sessionSchema = z.object({
  accessToken: z.string(),
  /** Epoch seconds, server clock. */
  accessTokenExpiresAt: z.number(),
  /**
   * Absent when the client asked for the cookie transport (`X-Calling-Session: cookie`): the refresh
   * token is then an HttpOnly cookie the page's script never sees.
   */
  refreshToken: z.string().optional(),
  deviceId: z.string(),
  user: userSchema,
});

export const deviceSchema = z.object({
  deviceId: z.string(),
  label: z.string(),
  createdAt: z.number(),
  lastSeenAt: z.number(),
  current: z.boolean(),
});

export const accountResponses = {
  /** 202 to POST /auth/code */
  code: z.object({
    /** The number as the server normalised it (E.164): pass this one to verify. */
    phone: z.string(),
    expiresInSeconds: z.number(),
    resendAfterSeconds: z.number(),
  }),
  /** POST /auth/verify */
  verify: z.discriminatedUnion('status', [
    z.object({ status: z.literal('signed-in'), session: sessionSchema }),
    z.object({
      status: z.literal('registration-required'),
      registrationToken: z.string(),
      expiresInSeconds: z.number(),
    }),
  ]),
  /** 201 to POST /auth/register */
  register: z.object({ status: z.literal('signed-in'), session: sessionSchema }),
  /** POST /auth/refresh */
  refresh: z.object({ session: sessionSchema }),
  /** GET and PATCH /me, PUT /me/photo */
  user: z.object({ user: userSchema }),
  /** GET /devices */
  devices: z.object({ devices: z.array(deviceSchema) }),
  /** POST /contacts/lookup */
  contacts: z.object({ matches: z.array(z.object({ phone: z.string(), user: userSchema })) }),
};

export type AccountResponse = { [K in keyof typeof accountResponses]: z.infer<(typeof accountResponses)[K]> };

export type UserPhoto = z.infer<typeof userPhotoSchema>;
export type User = z.infer<typeof userSchema>;
export type Session = z.infer<typeof sessionSchema>;
export type Device = z.infer<typeof deviceSchema>;
export type CodeRequested = AccountResponse['code'];
export type VerifyResult = AccountResponse['verify'];
export type ContactMatch = AccountResponse['contacts']['matches'][number];

// ---- errors ------------------------------------------------------------------------------------------

/** Every error answer: `{ error: { code, message, details? } }` (details are strings, see protocol/errors.ts). */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.string()).optional(),
  }),
});
