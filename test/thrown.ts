/**
 * What a synchronous call threw (undefined if it returned): for tests that
 * look at a refusal's type and message, such as the Digest parser's
 * (test/unit/mut-digest-params*.test.ts).
 */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
