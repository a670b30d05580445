/**
 * Re-checks `check` until it returns something other than undefined or false, and returns that.
 * For waiting on something the test cannot be told about directly (a model warming up in the
 * background, a server noticing a closed socket). The deadline is not an assertion about speed:
 * it only turns a hang into a failure, and sits far beyond any machine's time for the wait.
 */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, deadlineMs = 60_000): Promise<T> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`still waiting after ${deadlineMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
