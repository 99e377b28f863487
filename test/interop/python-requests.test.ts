// Interop, server side: Python requests' HTTPDigestAuth (Debian python3-requests, run with
// /usr/bin/python3) against our digestAuth() middleware. Checks RFC 7616 §3.3/§3.7 (several
// challenges in one 401: requests merges the headers and ends up answering the LAST one), §3.4
// (MD5, MD5-sess, SHA-256 responses; it sends `algorithm="..."` and `qop="auth"` quoted, which a
// server must tolerate), §3.3 nonce reuse with an incrementing nc on one Session, and the 401 on a
// wrong password.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { type DigestPrincipal, digestAuth, staticCredentials } from "../../src/digest/index.ts";
import {
  assertSucceeded,
  parseDigestParams,
  type RunningServer,
  requirePrerequisites,
  runProcess,
  startHonoServer,
} from "./helpers.ts";

const REALM = "interop@example.org";
const USER = "alice";
const PASSWORD = "Circle of Life";
const SECRET = "interop-test-nonce-secret-0123456789";

/** Debian's interpreter: python3 on PATH may be a pyenv one without python3-requests. */
const PYTHON = "/usr/bin/python3";
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "requests_digest.py");

function requestsVersion(): string | undefined {
  if (!existsSync(PYTHON)) return undefined;
  const probe = spawnSync(PYTHON, ["-c", "import requests; print(requests.__version__)"], {
    encoding: "utf8",
    timeout: 15_000,
  });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}
const REQUESTS_VERSION = requestsVersion();

type DigestOptions = Parameters<typeof digestAuth>[0];

interface Echo {
  username: string;
  algorithm: string;
  qop: string;
  method: string;
  body: string;
}

interface PyResult {
  status: number;
  body: string;
  authorization: string | null;
  authentication_info: string | null;
  www_authenticate: string | null;
  history: number[];
}

interface PyRequest {
  method?: string;
  url: string;
  body?: string;
  headers?: Record<string, string>;
}

async function runRequests(password: string, requests: PyRequest[]): Promise<PyResult[]> {
  const result = await runProcess(PYTHON, [SCRIPT], {
    input: JSON.stringify({ username: USER, password, requests }),
    timeoutMs: 30_000,
    // Keep requests away from environment proxies and user site-packages.
    env: { ...process.env, NO_PROXY: "*", no_proxy: "*", PYTHONNOUSERSITE: "1" },
  });
  assertSucceeded("python3 requests_digest.py", result);
  return (JSON.parse(result.stdout) as { results: PyResult[] }).results;
}

let server: RunningServer | undefined;
/** Every status our server answered, in order, seen by an outer middleware. */
let statuses: number[] = [];

async function serveDigest(overrides: Partial<DigestOptions> = {}): Promise<string> {
  statuses = [];
  const app = new Hono<{ Variables: { digest: DigestPrincipal } }>();
  app.use("*", async (c, next) => {
    await next();
    statuses.push(c.res.status);
  });
  app.use(
    "/protected/*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials({ [USER]: PASSWORD }),
      ...overrides,
    }),
  );
  app.all("/protected/*", async (c) => {
    const principal = c.get("digest");
    const echo: Echo = {
      username: principal.username,
      algorithm: principal.algorithm,
      qop: principal.qop,
      method: c.req.method,
      body: await c.req.text(),
    };
    return c.json(echo);
  });
  server = await startHonoServer(app);
  return `${server.baseUrl}/protected`;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

function creds(result: PyResult): Record<string, { value: string; quoted: boolean }> {
  expect(result.authorization, "requests sent no Authorization header").toMatch(/^Digest /);
  return parseDigestParams(result.authorization as string);
}

describe("[DIGEST-INTEROP-PYTHON] Python requests HTTPDigestAuth against digestAuth()", {
  timeout: 30_000,
}, () => {
  const missing: string[] = [];
  if (!existsSync(PYTHON)) missing.push(`${PYTHON} (Debian package python3)`);
  else if (!REQUESTS_VERSION) missing.push(`python3-requests importable by ${PYTHON}`);
  if (!requirePrerequisites(missing)) return;

  it("answers the LAST challenge: MD5 when SHA-256 is offered before MD5", async () => {
    const base = await serveDigest({ algorithms: ["SHA-256", "MD5"], qop: ["auth"] });
    const [result] = await runRequests(PASSWORD, [{ url: `${base}/a` }]);

    expect(result?.status, result?.body).toBe(200);
    expect(result?.history).toEqual([401]);
    expect((JSON.parse(result?.body ?? "") as Echo).algorithm).toBe("MD5");
    const c = creds(result as PyResult);
    expect(c.algorithm).toEqual({ value: "MD5", quoted: true });
    expect(c.qop?.value).toBe("auth");
    expect(c.nc).toEqual({ value: "00000001", quoted: false });
    expect(c.username?.value).toBe(USER);
    expect(c.uri?.value).toBe("/protected/a");
  });

  it("uses SHA-256 when SHA-256 is the last challenge", async () => {
    const base = await serveDigest({ algorithms: ["MD5", "SHA-256"], qop: ["auth"] });
    const [result] = await runRequests(PASSWORD, [{ url: `${base}/a?x=1&y=two` }]);

    expect(result?.status, result?.body).toBe(200);
    expect((JSON.parse(result?.body ?? "") as Echo).algorithm).toBe("SHA-256");
    const c = creds(result as PyResult);
    expect(c.algorithm?.value).toBe("SHA-256");
    expect(c.uri?.value).toBe("/protected/a?x=1&y=two");
    const info = parseDigestParams(result?.authentication_info ?? "");
    expect(info.rspauth?.value).toMatch(/^[0-9a-f]{64}$/);
  });

  it("authenticates with MD5-sess", async () => {
    const base = await serveDigest({ algorithms: ["MD5-sess"], qop: ["auth"] });
    const [result] = await runRequests(PASSWORD, [{ url: `${base}/sess` }]);
    expect(result?.status, result?.body).toBe(200);
    expect((JSON.parse(result?.body ?? "") as Echo).algorithm).toBe("MD5-sess");
  });

  it("works with the default configuration (qop auth and auth-int offered, userhash advertised)", async () => {
    const base = await serveDigest();
    const [result] = await runRequests(PASSWORD, [{ url: `${base}/default` }]);
    expect(result?.status, result?.body).toBe(200);
    // requests ignores userhash and sends the plain username, which the server must accept.
    const c = creds(result as PyResult);
    expect(c.username?.value).toBe(USER);
    expect(c.userhash).toBeUndefined();
    expect(c.qop?.value).toBe("auth");
  });

  it("reuses the nonce on one Session with nc 1, 2, 3, ... and no further 401", async () => {
    const base = await serveDigest({ algorithms: ["SHA-256", "MD5"], qop: ["auth"] });
    const results = await runRequests(PASSWORD, [
      { url: `${base}/one` },
      { url: `${base}/two` },
      { method: "POST", url: `${base}/three`, body: "payload=3" },
      { method: "PUT", url: `${base}/four`, body: "payload=4" },
      { url: `${base}/five` },
    ]);

    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // Only the very first request met a challenge; later ones were sent preemptively.
    expect(results.map((r) => r.history)).toEqual([[401], [], [], [], []]);
    expect(statuses).toEqual([401, 200, 200, 200, 200, 200]);

    const all = results.map((r) => creds(r));
    const nonce = all[0]?.nonce?.value;
    expect(nonce).toBeTruthy();
    expect(all.map((c) => c.nonce?.value)).toEqual(Array(5).fill(nonce));
    expect(all.map((c) => c.nc?.value)).toEqual([
      "00000001",
      "00000002",
      "00000003",
      "00000004",
      "00000005",
    ]);
    expect(new Set(all.map((c) => c.cnonce?.value)).size).toBe(5);

    const echoes = results.map((r) => JSON.parse(r.body) as Echo);
    expect(echoes.map((e) => e.method)).toEqual(["GET", "GET", "POST", "PUT", "GET"]);
    expect(echoes[2]?.body).toBe("payload=3");
    expect(echoes[3]?.body).toBe("payload=4");
    // Each success carries Authentication-Info bound to that request's nc.
    expect(results.map((r) => parseDigestParams(r.authentication_info ?? "").nc?.value)).toEqual([
      "00000001",
      "00000002",
      "00000003",
      "00000004",
      "00000005",
    ]);
  });

  it("rejects a wrong password with 401 and gives no Authentication-Info", async () => {
    const base = await serveDigest({ algorithms: ["SHA-256", "MD5"], qop: ["auth"] });
    const [result] = await runRequests("wrong password", [{ url: `${base}/a` }]);

    expect(result?.status).toBe(401);
    expect(result?.history).toEqual([401]);
    expect(statuses).toEqual([401, 401]);
    expect(result?.authentication_info).toBeNull();
    expect(result?.www_authenticate).toMatch(/Digest /);
    expect(creds(result as PyResult).algorithm?.value).toBe("MD5");
  });
});
