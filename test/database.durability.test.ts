/**
 * An answered registration is on disk: the server process is SIGKILLed (no shutdown, no flush)
 * right after the registration's answer arrives, and after a restart on the same database the
 * user exists and the refresh token works — with the embedded SQLite and with PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from './support/serverProcess.js';
import { refreshAndReadMe, signUp } from './support/signUp.js';
import { postgresDatabaseUrl, sqlKinds, tempDataDir, type SqlKind } from './support/testDatabases.js';
import { randomUUID } from 'node:crypto';

describe.each(sqlKinds)('durability on %s', (kind: SqlKind) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('keeps a registration answered just before the process is killed', async () => {
    let env: Record<string, string>;
    if (kind === 'sqlite') {
      const data = tempDataDir();
      cleanup.push(data.remove);
      env = { DATA_DIR: data.dir };
    } else {
      env = { DATABASE_URL: await postgresDatabaseUrl(`durable_${randomUUID()}`) };
    }
    const first: ServerProcess = await startServerProcess(env);
    cleanup.push(() => first.stop());
    const phone = '+12015550160';
    const session = await signUp(first.url, phone, 'Durable Dora');
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = await startServerProcess(env);
    cleanup.push(() => second.stop());
    const after = await refreshAndReadMe(second.url, session.refreshToken);
    expect(after.status).toBe(200);
    expect(after.me).toMatchObject({ userId: session.user.userId, name: 'Durable Dora', phone });
    // Signing in again finds the same user instead of offering a new registration.
    const again = await signUp(second.url, phone, 'Someone Else');
    expect(again.user.userId).toBe(session.user.userId);
  });
});
