/**
 * RFC 7616 §3.4 (emit strictly, DESIGN §4): which parameters of the client's
 * Authorization header are quoted-strings (username, realm, uri, nonce,
 * cnonce, response, opaque) and which are tokens (algorithm, nc, qop,
 * userhash). Issue #9, mutation testing: flipping any of these went unseen
 * (Stryker survivors in src/digest/client.ts, docs/mutation.md), because our
 * own lenient parser reads both forms; strict servers do not.
 */
import { describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";

const QUOTED = ["username", "realm", "uri", "nonce", "cnonce", "response", "opaque"];
const TOKENS = ["algorithm", "nc", "qop"];

/** Challenges once, records the answer's Authorization, then says 200. */
function challengingOnce(challenge: string) {
  const sent: string[] = [];
  const transport = async (request: Request) => {
    const authorization = request.headers.get("authorization");
    if (!authorization) {
      return new Response(null, { status: 401, headers: { "www-authenticate": challenge } });
    }
    sent.push(authorization);
    return new Response("ok", { status: 200 });
  };
  return { sent, transport };
}

function paramForm(header: string, name: string): "quoted" | "token" | "absent" {
  const match = new RegExp(`(?:^Digest |, )${name}=("?)`).exec(header);
  if (!match) return "absent";
  return match[1] === '"' ? "quoted" : "token";
}

describe("[DIGEST-PARSE][DIGEST-CLIENT] the client emits its Authorization strictly", () => {
  it("[DIGEST-PARSE][DIGEST-CLIENT] quoted-strings and tokens where RFC 7616 §3.4 puts them, opaque echoed, no userhash unless asked", async () => {
    const { sent, transport } = challengingOnce(
      'Digest realm="emit", qop="auth", algorithm=SHA-256, nonce="n0nce", opaque="0paque"',
    );
    const res = await createDigestFetch({ username: "alice", password: "pw", fetch: transport })(
      "http://emit.test/path?q=1",
    );
    expect(res.status).toBe(200);
    const header = sent[0] as string;
    expect(header).toMatch(/^Digest username="alice", realm="emit", uri="\/path\?q=1", /);
    for (const name of QUOTED) expect([name, paramForm(header, name)]).toEqual([name, "quoted"]);
    for (const name of TOKENS) expect([name, paramForm(header, name)]).toEqual([name, "token"]);
    expect(header).toContain("algorithm=SHA-256");
    expect(header).toContain("nc=00000001");
    expect(header).toContain("qop=auth");
    expect(header).toContain('opaque="0paque"');
    expect(paramForm(header, "userhash")).toBe("absent");
  });

  it("[DIGEST-USERHASH][DIGEST-CLIENT] with userhash=true the hashed username is quoted and userhash=true is a token; without opaque none is sent", async () => {
    const { sent, transport } = challengingOnce(
      'Digest realm="emit", qop="auth", algorithm=SHA-256, nonce="n0nce", userhash=true',
    );
    await createDigestFetch({ username: "alice", password: "pw", fetch: transport })(
      "http://emit.test/",
    );
    const header = sent[0] as string;
    expect(header).toMatch(/^Digest username="[0-9a-f]{64}", /);
    expect(header).toContain(", userhash=true");
    expect(paramForm(header, "opaque")).toBe("absent");
  });
});
