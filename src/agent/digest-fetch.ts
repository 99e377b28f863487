/**
 * The Digest client of the CPNS agents and the CLI: the engine's
 * createDigestFetch (src/digest), whose failures are its own DigestError
 * (issue #12 "Walls"), with each failure turned into the CPNS error of the
 * same code at this boundary. Everything above the agents (the CLI, the PN
 * GW's relay, the machines' events, callers of the agents) then sees one
 * error type, CpnsError, whichever layer refused.
 *
 * Implements: DIGEST-WALLS, PEER-SESSION-PRIMED, ENROLL-PRIMED
 */
import { createDigestFetch, DigestError, type DigestFetchOptions } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";

export function agentDigestFetch(
  options: DigestFetchOptions,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  const inner = createDigestFetch(options);
  return async (input, init) => {
    try {
      return await inner(input, init);
    } catch (err) {
      if (err instanceof DigestError) throw new CpnsError(err.code, err.detail, err.headers);
      throw err;
    }
  };
}

/**
 * A client primed with a challenge that came with an earlier answer (a session
 * opening, an enrollment: issue #12 "Speed"), so its first request needs no 401
 * round trip. Headers are not covered by rspauth: a challenge that does not meet
 * the client's minimums (weaker, or not Digest at all) is dropped, and the first
 * request then meets a real 401 that the client judges as always.
 */
export function primedAgentDigestFetch(
  options: DigestFetchOptions,
  prime: { challenge: string | null; origin: string },
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  if (prime.challenge) {
    try {
      return agentDigestFetch({
        ...options,
        primeWith: { challenge: prime.challenge, origin: prime.origin },
      });
    } catch {
      // Not acceptable: not worth the round trip it would save.
    }
  }
  return agentDigestFetch(options);
}
