/**
 * The tests' one way to wait for a condition: poll it until it holds or a deadline passes, and
 * say what was awaited when it did not (no fixed sleeps where a condition can be checked).
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; what?: string; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/** Polls `read` until `ok` holds for its value and returns that value; fails with the last one. */
export async function untilValue<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  opts: { timeoutMs?: number; what?: string; intervalMs?: number } = {},
): Promise<T> {
  let last: T = await read();
  try {
    await until(async () => {
      if (ok(last)) return true;
      last = await read();
      return ok(last);
    }, opts);
  } catch (err) {
    throw new Error(`${(err as Error).message}: last value ${JSON.stringify(last)}`);
  }
  return last;
}
