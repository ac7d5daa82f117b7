// Polls until `check` returns a truthy value (or the time is up): for hooks, where expect.poll is not allowed.
export async function waitFor<T>(check: () => T | Promise<T>, opts: { timeoutMs: number; intervalMs?: number; what: string }): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
