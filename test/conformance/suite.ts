/**
 * One HTTP-level conformance suite for the Digest-protected demo app, run
 * unchanged against every runtime (Node, Deno, workerd): the runtime test files
 * start a real server and hand over its base URL. Everything goes over real
 * sockets, with the real global fetch underneath our Digest client, so a
 * runtime-specific difference (header joining, body handling, crypto) shows up
 * here and nowhere else. Raw responses are read with node:http so the test sees
 * the field lines as sent. Note that every runtime here serialises a Fetch
 * `Headers` with several appended WWW-Authenticate values as ONE comma-joined
 * field line (RFC 9110 §5.3 allows it), so "one challenge per algorithm" is
 * checked on the parsed challenge list, not by counting field lines.
 */
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { CONFORMANCE_REALM, CONFORMANCE_USERS } from "./spawn.ts";

interface RawResponse {
  status: number;
  /** Header fields in arrival order, names lower-cased; repeated fields stay separate. */
  headers: [string, string][];
  body: string;
}

function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? "GET", headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const headers: [string, string][] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            headers.push([
              (res.rawHeaders[i] as string).toLowerCase(),
              res.rawHeaders[i + 1] as string,
            ]);
          }
          resolve({
            status: res.statusCode ?? 0,
            headers,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("request timed out")));
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

const all = (res: RawResponse, name: string) =>
  res.headers.filter(([key]) => key === name).map(([, value]) => value);
const one = (res: RawResponse, name: string) => all(res, name)[0];

/** Auth-param value from a challenge/credentials/Authentication-Info string (test-grade parser). */
function param(header: string, name: string): string | undefined {
  const match = new RegExp(
    `(?:^|[\\s,])${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,]+))`,
    "i",
  ).exec(header);
  if (match === null) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

/**
 * Splits WWW-Authenticate field values into challenges (RFC 9110 §11.6.1):
 * top-level commas separate list members, and a member that starts with
 * `scheme SP` opens a new challenge. Quote-aware; test-grade, independent of
 * the engine's parser.
 */
function splitChallenges(fieldValues: string[]): string[] {
  const challenges: string[] = [];
  for (const value of fieldValues) {
    const members: string[] = [];
    let current = "";
    let quoted = false;
    for (let i = 0; i < value.length; i++) {
      const ch = value[i] as string;
      if (quoted && ch === "\\") {
        current += ch + (value[i + 1] ?? "");
        i++;
        continue;
      }
      if (ch === '"') quoted = !quoted;
      if (ch === "," && !quoted) {
        members.push(current.trim());
        current = "";
      } else {
        current += ch;
      }
    }
    members.push(current.trim());
    for (const member of members) {
      if (member === "") continue;
      if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s+[^=\s]/.test(member) || challenges.length === 0) {
        challenges.push(member);
      } else {
        challenges[challenges.length - 1] += `, ${member}`;
      }
    }
  }
  return challenges;
}

const challenges = (res: RawResponse) => splitChallenges(all(res, "www-authenticate"));

/** RFC 7616 §3.4 SHA-256 / qop=auth-int credentials, computed with node:crypto only. */
function manualAuthInt(
  challenge: string,
  username: string,
  password: string,
  method: string,
  uri: string,
  nc: string,
  body: string,
): string {
  const h = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
  const realm = param(challenge, "realm") ?? "";
  const nonce = param(challenge, "nonce") ?? "";
  const cnonce = randomBytes(16).toString("hex");
  const ha1 = h(`${username}:${realm}:${password}`);
  const ha2 = h(`${method}:${uri}:${h(body)}`);
  const response = h(`${ha1}:${nonce}:${nc}:${cnonce}:auth-int:${ha2}`);
  const opaque = param(challenge, "opaque");
  return (
    `Digest username="${username}", realm="${realm}", uri="${uri}", algorithm=SHA-256, ` +
    `nonce="${nonce}", nc=${nc}, cnonce="${cnonce}", qop=auth-int, response="${response}"` +
    (opaque === undefined ? "" : `, opaque="${opaque}"`)
  );
}

/** A fetch that remembers every Authorization header our Digest client sends. */
function recordingFetch() {
  const sent: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const authorization = request.headers.get("authorization");
    if (authorization !== null) sent.push(authorization);
    return await fetch(request);
  };
  return { fetch: wrapped, sent };
}

type DigestFetchOptions = Parameters<typeof createDigestFetch>[0];

function client(
  username: string,
  password: string,
  fetchImpl: typeof fetch = fetch,
  extra: Partial<DigestFetchOptions> = {},
) {
  return createDigestFetch({
    username,
    password,
    fetch: fetchImpl,
    requireRspauth: true,
    ...extra,
  });
}

const ALICE = { username: "alice", password: CONFORMANCE_USERS.alice };
const TIMEOUT = 20_000;

/**
 * Registers the conformance tests in the caller's describe block. `getBaseUrl`
 * is called lazily, after the caller's beforeAll has started the runtime.
 */
export function runConformance(name: string, getBaseUrl: () => string): void {
  const url = (path: string) => `${getBaseUrl()}${path}`;

  it(
    `${name}: GET /health is public and answers 200 JSON`,
    async () => {
      const res = await fetch(url("/health"));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ status: "ok" });
    },
    TIMEOUT,
  );

  it(
    `${name}: an unknown path is 404 problem+json, not a challenge`,
    async () => {
      const res = await rawRequest(url("/no-such-route"));
      expect(res.status).toBe(404);
      expect(one(res, "content-type")).toMatch(/^application\/problem\+json/);
      expect(all(res, "www-authenticate")).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    `[DIGEST-ALGORITHMS] ${name}: GET /hello without credentials is 401 problem+json with one Digest challenge per algorithm, SHA-256 first`,
    async () => {
      const res = await rawRequest(url("/hello"));
      expect(res.status).toBe(401);
      expect(one(res, "content-type")).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(res.body) as Record<string, unknown>;
      expect(typeof problem.title).toBe("string");
      if (problem.status !== undefined) expect(problem.status).toBe(401);

      const list = challenges(res);
      expect(list.length).toBeGreaterThanOrEqual(2);
      const algorithms = list.map((challenge) => {
        expect(challenge).toMatch(/^Digest\s/i);
        expect(param(challenge, "realm")).toBe(CONFORMANCE_REALM);
        expect(param(challenge, "nonce")).toMatch(/\S/);
        expect(param(challenge, "qop")?.split(/\s*,\s*/)).toContain("auth");
        return param(challenge, "algorithm");
      });
      expect(algorithms[0]).toBe("SHA-256");
      expect(new Set(algorithms).size).toBe(list.length);
    },
    TIMEOUT,
  );

  it(
    `${name}: our Digest client over the global fetch gets 200, the principal and a verified rspauth`,
    async () => {
      const recorder = recordingFetch();
      const res = await client(ALICE.username, ALICE.password, recorder.fetch)(url("/hello"));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { principal?: Record<string, unknown> };
      expect(body.principal).toMatchObject({ username: "alice", realm: CONFORMANCE_REALM });
      expect(body.principal?.algorithm).toMatch(/^(SHA-256|SHA-512-256|MD5)(-sess)?$/);
      expect(body.principal?.qop).toMatch(/^auth(-int)?$/);
      expect(recorder.sent.length).toBeGreaterThanOrEqual(1);

      const info = res.headers.get("authentication-info");
      expect(info).not.toBeNull();
      expect(param(info ?? "", "rspauth")).toMatch(/^[0-9a-f]{32,64}$/);
      expect(param(info ?? "", "qop")).toBe(body.principal?.qop);
      const sent = recorder.sent.at(-1) ?? "";
      expect(param(info ?? "", "cnonce")).toBe(param(sent, "cnonce"));
      expect(param(info ?? "", "nc")).toBe(param(sent, "nc"));
    },
    TIMEOUT,
  );

  it(
    `${name}: a second user from CPNS_DEMO_USERS authenticates too`,
    async () => {
      const res = await client("bob", CONFORMANCE_USERS.bob)(url("/hello"));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ principal: { username: "bob" } });
    },
    TIMEOUT,
  );

  it(
    `${name}: a wrong password is 401 with fresh challenges`,
    async () => {
      const res = await client(ALICE.username, "not-the-password")(url("/hello"));
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.headers.get("www-authenticate")).toMatch(/^Digest\s/i);
      await res.arrayBuffer();
    },
    TIMEOUT,
  );

  it(
    `${name}: an unknown user is 401`,
    async () => {
      const res = await client("mallory", "whatever")(url("/hello"));
      expect(res.status).toBe(401);
      await res.arrayBuffer();
    },
    TIMEOUT,
  );

  it(
    `${name}: a malformed Authorization header is 400`,
    async () => {
      const malformed = [
        'Digest username="alice, realm="unterminated', // unterminated quoted-string
        'Digest username="alice", username="bob", realm="x", nonce="n", uri="/hello", response="00"', // duplicate parameter
      ];
      for (const authorization of malformed) {
        const res = await rawRequest(url("/hello"), { headers: { authorization } });
        expect(res.status, authorization).toBe(400);
        expect(one(res, "content-type")).toMatch(/^application\/problem\+json/);
      }
    },
    TIMEOUT,
  );

  it(
    `${name}: a replayed Authorization header is refused with 401`,
    async () => {
      const recorder = recordingFetch();
      const first = await client(ALICE.username, ALICE.password, recorder.fetch)(url("/hello"));
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      const captured = recorder.sent.at(-1);
      expect(captured).toBeDefined();

      const replay = await rawRequest(url("/hello"), {
        headers: { authorization: captured ?? "" },
      });
      expect(replay.status).toBe(401);
      expect(all(replay, "www-authenticate").length).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT,
  );

  it(
    `${name}: POST /echo returns the body and the principal`,
    async () => {
      const payload = JSON.stringify({ greeting: "hello", unicode: "grüße ✓", n: 42 });
      const res = await client(ALICE.username, ALICE.password)(url("/echo"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("authentication-info")).toMatch(/rspauth=/);
      expect(await res.json()).toMatchObject({
        body: payload,
        principal: { username: "alice", realm: CONFORMANCE_REALM },
      });
    },
    TIMEOUT,
  );

  it(
    `${name}: several requests in a row on one client all succeed (nonce reuse / nc counting)`,
    async () => {
      const fetchDigest = client(ALICE.username, ALICE.password);
      for (let i = 0; i < 3; i++) {
        const res = await fetchDigest(url("/hello"));
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    },
    TIMEOUT,
  );

  it(
    `[DIGEST-ALGORITHMS] ${name}: every offered hash (SHA-256, SHA-512-256, MD5) verifies, with and without userhash`,
    async () => {
      for (const algorithm of ["SHA-256", "SHA-512-256", "MD5"] as const) {
        for (const userhash of [true, false]) {
          const res = await client(ALICE.username, ALICE.password, fetch, {
            algorithms: [algorithm],
            userhash,
          })(url("/hello"));
          expect(res.status, `${algorithm} userhash=${userhash}`).toBe(200);
          expect(await res.json()).toMatchObject({
            principal: { username: "alice", algorithm, userhash },
          });
        }
      }
    },
    TIMEOUT,
  );

  it(
    `${name}: qop=auth-int covers the request body and rspauth covers the response body`,
    async () => {
      const fetchDigest = client(ALICE.username, ALICE.password, fetch, { qop: "auth-int" });
      const payload = "auth-int body ✓ ".repeat(200);
      const res = await fetchDigest(url("/echo"), { method: "POST", body: payload });
      expect(res.status).toBe(200);
      expect(param(res.headers.get("authentication-info") ?? "", "qop")).toBe("auth-int");
      expect(await res.json()).toMatchObject({ body: payload, principal: { qop: "auth-int" } });

      // Independent check with node:crypto: an auth-int response computed over
      // "original" verifies for that body (nc 1) and fails for a tampered one
      // (fresh nc 2, so the 401 is the body hash and not replay detection).
      const challenge = await rawRequest(url("/echo"), { method: "POST", body: "x" });
      const sha256 = challenges(challenge).find((c) => param(c, "algorithm") === "SHA-256") ?? "";
      const authorization = (nc: string, signedBody: string) =>
        manualAuthInt(sha256, ALICE.username, ALICE.password, "POST", "/echo", nc, signedBody);
      const genuine = await rawRequest(url("/echo"), {
        method: "POST",
        headers: { authorization: authorization("00000001", "original") },
        body: "original",
      });
      expect(genuine.status).toBe(200);
      const tampered = await rawRequest(url("/echo"), {
        method: "POST",
        headers: { authorization: authorization("00000002", "original") },
        body: "tampered",
      });
      expect(tampered.status).toBe(401);
    },
    TIMEOUT,
  );
}
