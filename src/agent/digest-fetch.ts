/**
 * The Digest client of the CPNS agents and the CLI: the engine's
 * createDigestFetch (src/digest), whose failures are its own DigestError
 * (issue #12 "Walls"), with each failure turned into the CPNS error of the
 * same code at this boundary. Everything above the agents (the CLI, the PN
 * GW's relay, the machines' events, callers of the agents) then sees one
 * error type, CpnsError, whichever layer refused.
 *
 * Implements: DIGEST-WALLS
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
