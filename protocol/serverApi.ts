/**
 * The server-to-server API of embedding messengers (docs/server-api.md) as zod schemas: the route
 * (server/routes/serverRoutes.ts) validates requests with them and types its answers by them, and
 * tests parse the answers with them, so the documented shape and the code cannot drift apart.
 */
import { z } from 'zod';
import { accountRequests, userSchema } from './accounts.js';

/** The messenger's own id for a person: what its backend puts in the URL. */
export const externalIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@:+=-]{1,128}$/, 'must be 1-128 letters, digits or . _ @ : + = -');

export const serverRequests = {
  /** POST /api/v1/server/users/:externalId/token */
  /** The messenger's current name for the person: the same rules as a registration's name. */
  userToken: z.object({ displayName: accountRequests.rename.shape.name }),
};

export const serverResponses = {
  userToken: z.object({
    accessToken: z.string(),
    /** Epoch seconds, server clock. */
    accessTokenExpiresAt: z.number(),
    deviceId: z.string(),
    /** True when this request created the account. */
    created: z.boolean(),
    user: userSchema,
  }),
};

export type ServerUserToken = z.infer<typeof serverResponses.userToken>;
