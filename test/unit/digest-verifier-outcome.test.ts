/**
 * Issue #12 (Speed): the verifier's success outcome is a class instance whose
 * rspauth inputs are private fields (no closure per request). From the side of
 * someone reading logs or a careless application: the session HA1 (a password
 * equivalent for non-"-sess" algorithms) is in no enumerable property, no JSON
 * and no spread of the outcome; Authentication-Info is computed from the values
 * that were verified, even when the application rewrites the principal it was
 * handed; and a synchronous lookup and onAttempt keep their order.
 */
import { describe, expect, it } from "vitest";
import {
  ALGORITHMS,
  computeHa1,
  computeHa2,
  computeResponse,
  createDigestVerifier,
  parseChallenges,
  parseCredentials,
} from "../../src/digest/index.ts";

const algorithm = ALGORITHMS["SHA-256"];
const HA1 = computeHa1(algorithm, "alice", "outcome", "pw-outcome");

function setup(events: string[] = []) {
  const verifier = createDigestVerifier({
    realm: "outcome",
    secret: "outcome-secret-0123456789abcdef",
    algorithms: ["SHA-256"],
    qop: ["auth"],
    lookup: ({ username }) => {
      events.push(`lookup ${username}`);
      return username === "alice" ? { ha1: HA1 } : undefined;
    },
  });
  const challenge = parseChallenges(verifier.challenges()[0] as string)[0];
  const nonce = challenge?.params.get("nonce") as string;
  const opaque = challenge?.params.get("opaque") as string;
  const header = (nc: string, cnonce = "c0ffee") => {
    const response = computeResponse(algorithm, {
      ha1: HA1,
      nonce,
      nc,
      cnonce,
      qop: "auth",
      ha2: computeHa2(algorithm, "GET", "/r"),
    });
    return `Digest username="alice", realm="outcome", uri="/r", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="${cnonce}", qop=auth, response="${response}", opaque="${opaque}"`;
  };
  const verify = (authorization: string) =>
    verifier.verify({
      method: "GET",
      url: "http://h/r",
      authorization,
      onAttempt: (claimed) => {
        events.push(`attempt ${claimed.username}`);
      },
    });
  return { verify, header, nonce };
}

describe("[DIGEST-SPEED-OUTCOME] the success outcome", () => {
  it("[DIGEST-SPEED-OUTCOME] shows the session HA1 in no enumerable property, JSON or spread", async () => {
    const { verify, header } = setup();
    const outcome = await verify(header("00000001"));
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(Object.keys(outcome).sort()).toEqual(["needsResponseBody", "ok", "principal"]);
    expect(JSON.stringify(outcome)).not.toContain(HA1);
    expect(JSON.stringify({ ...outcome })).not.toContain(HA1);
    expect(outcome.needsResponseBody).toBe(false);
  });

  it("[DIGEST-SPEED-OUTCOME] Authentication-Info answers what was verified, even after the application rewrites the principal", async () => {
    const { verify, header, nonce } = setup();
    const outcome = await verify(header("00000002", "cn-2"));
    if (!outcome.ok) throw new Error(outcome.code);
    const expected = computeResponse(algorithm, {
      ha1: HA1,
      nonce,
      nc: "00000002",
      cnonce: "cn-2",
      qop: "auth",
      ha2: computeHa2(algorithm, "", "/r"),
    });
    outcome.principal.nonce = "rewritten";
    outcome.principal.cnonce = "rewritten";
    outcome.principal.qop = "auth-int";
    const info = parseCredentials(`X ${outcome.authenticationInfo()}`).params;
    expect(info.get("rspauth")).toBe(expected);
    expect(info.get("cnonce")).toBe("cn-2");
    expect(info.get("qop")).toBe("auth");
    expect(info.get("nc")).toBe("00000002");
  });

  it("[DIGEST-SPEED-OUTCOME] a synchronous onAttempt still runs before a synchronous lookup, once each; a replay is still refused", async () => {
    const events: string[] = [];
    const { verify, header } = setup(events);
    const h = header("00000003");
    expect((await verify(h)).ok).toBe(true);
    expect(events).toEqual(["attempt alice", "lookup alice"]);
    const again = await verify(h);
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.code).toBe("ERR_DIGEST_UNAUTHORIZED");
  });
});
