/**
 * The owner of block lists: whom a user has blocked. A blocked caller's invitations are silently
 * refused by the call service (calls/callService.ts asks `blockersOf` on every invitation); this
 * module only keeps the lists and enforces their rules (existing users, not oneself, bounded).
 * HTTP routes in server/routes/blockRoutes.ts; the contract in docs/accounts-api.md.
 */
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { AccountStore } from '../state/accountStore.js';
import { publicUser, type PublicUser } from './accountService.js';

/**
 * Entries one user may keep. Bounds the row count per user and the work of listing; far above what
 * a person blocks by hand, so reaching it means a script, which gets a clear error.
 */
export const MAX_BLOCKED_USERS = 1000;

export interface BlockedUserView {
  /** The blocked user as anyone may see them (no phone number). */
  user: PublicUser;
  blockedAt: number;
}

export class BlockList {
  readonly #store: AccountStore;
  readonly #maxBlocks: number;

  constructor(opts: { store: AccountStore; maxBlocks?: number }) {
    this.#store = opts.store;
    this.#maxBlocks = opts.maxBlocks ?? MAX_BLOCKED_USERS;
  }

  /** Blocks `targetId` for `userId`; blocking someone already blocked changes nothing. */
  async block(userId: string, targetId: string): Promise<void> {
    if (targetId === userId)
      throw new ServiceError(ErrorCode.InvalidParams, 'you cannot block yourself', 400);
    await this.#assertUser(targetId);
    const result = await this.#store.addBlock(userId, targetId, Date.now(), this.#maxBlocks);
    if (result === 'full') {
      throw new ServiceError(
        ErrorCode.BlockListFull,
        `your block list is full (${this.#maxBlocks} entries); unblock someone first`,
        409,
      );
    }
  }

  /** Removes `targetId` from the list; unblocking someone not blocked changes nothing. */
  async unblock(userId: string, targetId: string): Promise<void> {
    await this.#assertUser(targetId);
    await this.#store.removeBlock(userId, targetId);
  }

  async list(userId: string): Promise<BlockedUserView[]> {
    const blocks = await this.#store.listBlocks(userId);
    const users = await this.#store.getUsers(blocks.map((b) => b.userId));
    return blocks.flatMap((b) => {
      const u = users.get(b.userId);
      return u ? [{ user: publicUser(u, { withPhone: false }), blockedAt: b.createdAt }] : [];
    });
  }

  /** Which of `userIds` have blocked `callerId`. */
  blockersOf(callerId: string, userIds: readonly string[]): Promise<Set<string>> {
    return this.#store.blockersOf(callerId, userIds);
  }

  async #assertUser(userId: string): Promise<void> {
    if (!(await this.#store.getUser(userId))) throw new ServiceError(ErrorCode.NotFound, 'no such user', 404);
  }
}
