// Interop, server side: curl's Digest client (`curl --digest`) against our digestAuth() middleware.
// Checks RFC 7616 §3.3 (challenges; a client answers one of several, §3.7: curl takes the FIRST
// of separate fields, but the last algorithm of one joined field, which is what Hono on Node
// sends, see expectOneLinePerChallenge), §3.4 (response computation for MD5, SHA-256, qop=auth and auth-int with an
// empty body, userhash §3.4.4), §3.5 / RFC 7615 §3 (Authentication-Info on success) and the 401 on
// a wrong password. Requires curl >= 7.57 (SHA-256 Digest).
import { spawnSync } from "node:child_process";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { type DigestPrincipal, digestAuth, staticCredentials } from "../../src/digest/index.ts";
import {
  assertSucceeded,
  locateBinary,
  parseCurlVersion,
  parseDigestParams,
  type RunningServer,
  requirePrerequisites,
  runProcess,
  splitChallenges,
  startHonoServer,
  versionAtLeast,
} from "./helpers.ts";

const REALM = "interop@example.org";
const USER = "alice";
const PASSWORD = "Circle of Life";
const SECRET = "interop-test-nonce-secret-0123456789";

const CURL = locateBinary("curl", ["/usr/bin/curl"]);
const CURL_VERSION = CURL
  ? parseCurlVersion(spawnSync(CURL, ["--version"], { encoding: "utf8" }).stdout ?? "")
  : undefined;

type DigestOptions = Parameters<typeof digestAuth>[0];

interface Echo {
  username: string;
  realm: string;
  algorithm: string;
  qop: string;
  userhash?: boolean;
  method: string;
  body: string;
  authorization: string | null;
}

interface Exchange {
  requestLine: string;
  requestHeaders: Record<string, string>;
  status: number | undefined;
  responseHeaders: Record<string, string[]>;
}

interface CurlResult {
  status: number;
  body: string;
  exchanges: Exchange[];
  stderr: string;
}

/** Parses `curl -v` stderr into request/response header blocks, one per round trip. */
function parseVerbose(stderr: string): Exchange[] {
  const exchanges: Exchange[] = [];
  let current: Exchange | undefined;
  for (const raw of stderr.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith("> ")) {
      const text = line.slice(2);
      if (/^[A-Z]+ \S+ HTTP\//.test(text)) {
        current = { requestLine: text, requestHeaders: {}, status: undefined, responseHeaders: {} };
        exchanges.push(current);
      } else if (current) {
        const i = text.indexOf(":");
        if (i > 0)
          current.requestHeaders[text.slice(0, i).toLowerCase()] = text.slice(i + 1).trim();
      }
    } else if (line.startsWith("< ") && current) {
      const text = line.slice(2);
      const status = /^HTTP\/[\d.]+ (\d{3})/.exec(text);
      if (status) {
        current.status = Number(status[1]);
        continue;
      }
      const i = text.indexOf(":");
      if (i > 0) {
        const name = text.slice(0, i).toLowerCase();
        const values = current.responseHeaders[name] ?? [];
        values.push(text.slice(i + 1).trim());
        current.responseHeaders[name] = values;
      }
    }
  }
  return exchanges;
}

async function runCurl(args: readonly string[]): Promise<CurlResult> {
  const marker = "\n@@CURL-STATUS@@";
  const result = await runProcess(
    CURL as string,
    // -q: ignore ~/.curlrc; --noproxy: never route 127.0.0.1 through an environment proxy.
    ["-q", "--noproxy", "*", "-sS", "-v", "-o", "-", "-w", `${marker}%{http_code}`, ...args],
    { timeoutMs: 15_000 },
  );
  assertSucceeded(`curl ${args.join(" ")}`, result);
  const at = result.stdout.lastIndexOf(marker);
  expect(at, `no status marker in curl output:\n${result.stdout}`).toBeGreaterThanOrEqual(0);
  return {
    status: Number(result.stdout.slice(at + marker.length)),
    body: result.stdout.slice(0, at),
    exchanges: parseVerbose(result.stderr),
    stderr: result.stderr,
  };
}

let server: RunningServer | undefined;

async function serveDigest(overrides: Partial<DigestOptions> = {}): Promise<string> {
  const app = new Hono<{ Variables: { digest: DigestPrincipal } }>();
  app.use(
    "/protected/*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials({ [USER]: PASSWORD }),
      ...overrides,
    }),
  );
  // A handler that builds its own Response and adds a header after construction.
  app.get("/protected/raw", () => {
    const res = new Response("raw body", { headers: { "content-type": "text/plain" } });
    res.headers.append("X-Handler", "kept");
    return res;
  });
  app.all("/protected/echo", async (c) => {
    const principal = c.get("digest");
    const echo: Echo = {
      username: principal.username,
      realm: principal.realm,
      algorithm: principal.algorithm,
      qop: principal.qop,
      userhash: principal.userhash,
      method: c.req.method,
      body: await c.req.text(),
      authorization: c.req.header("authorization") ?? null,
    };
    return c.json(echo);
  });
  server = await startHonoServer(app);
  return `${server.baseUrl}/protected/echo`;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * curl answers the first Digest challenge of the first WWW-Authenticate line (it reads a joined
 * line as one parameter list, so there it would answer the LAST). Our Node server writes one line
 * per challenge (src/runtime/node-server.ts), so curl must answer our most preferred algorithm.
 */
function expectOneLinePerChallenge(fields: readonly string[], offered: readonly unknown[]): void {
  expect(fields).toHaveLength(offered.length);
}

/** The Authorization header curl sent on its last round trip, parsed. */
function lastCredentials(result: CurlResult): Record<string, { value: string; quoted: boolean }> {
  const last = result.exchanges.at(-1);
  const header = last?.requestHeaders.authorization;
  expect(header, `curl sent no Authorization header:\n${result.stderr}`).toBeDefined();
  return parseDigestParams(header as string);
}

describe("[DIGEST-INTEROP-CURL] curl --digest against digestAuth()", { timeout: 20_000 }, () => {
  const missing: string[] = [];
  if (!CURL) missing.push("curl (Debian package curl)");
  else if (!CURL_VERSION || !versionAtLeast(CURL_VERSION, [7, 57, 0])) {
    missing.push(`curl >= 7.57 for SHA-256 Digest (found ${CURL_VERSION?.join(".") ?? "unknown"})`);
  }
  if (!requirePrerequisites(missing)) return;

  it("authenticates with MD5 when only MD5 is offered (RFC 2617 compatibility)", async () => {
    const url = await serveDigest({ algorithms: ["MD5"], qop: ["auth"] });
    const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);

    expect(result.status, result.stderr).toBe(200);
    const echo = JSON.parse(result.body) as Echo;
    expect(echo).toMatchObject({ username: USER, realm: REALM, algorithm: "MD5", qop: "auth" });

    // Round trip 1 was the unauthenticated probe, answered by exactly one MD5 challenge.
    expect(result.exchanges).toHaveLength(2);
    const [probe, authed] = result.exchanges as [Exchange, Exchange];
    expect(probe.status).toBe(401);
    const challenges = splitChallenges(probe.responseHeaders["www-authenticate"] ?? []);
    expect(challenges).toHaveLength(1);
    const challenge = parseDigestParams(challenges[0] ?? "");
    expect(challenge.algorithm?.value).toBe("MD5");
    expect(challenge.realm?.value).toBe(REALM);

    const creds = lastCredentials(result);
    expect(creds.nonce?.value).toBe(challenge.nonce?.value);
    expect(creds.qop?.value).toBe("auth");
    expect(creds.nc?.value).toBe("00000001");
    expect(creds.uri?.value).toBe("/protected/echo");

    // RFC 7615 §3 / RFC 7616 §3.5: the success carries Authentication-Info with rspauth.
    expect(authed.status).toBe(200);
    const info = authed.responseHeaders["authentication-info"]?.[0];
    expect(info, "no Authentication-Info on the 200").toBeDefined();
    const infoParams = parseDigestParams(info as string);
    expect(infoParams.rspauth?.value).toMatch(/^[0-9a-f]{32}$/);
    expect(infoParams.cnonce?.value).toBe(creds.cnonce?.value);
    expect(infoParams.nc?.value).toBe("00000001");
    expect(infoParams.qop?.value).toBe("auth");
  });

  for (const offered of [
    ["SHA-256", "MD5"],
    ["MD5", "SHA-256"],
  ] as const) {
    it(`with ${offered.join(" then ")} offered, answers the challenge curl picks (RFC 7616 §3.7)`, async () => {
      const url = await serveDigest({ algorithms: [...offered], qop: ["auth"] });
      const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);

      expect(result.status, result.stderr).toBe(200);
      const fields = result.exchanges[0]?.responseHeaders["www-authenticate"] ?? [];
      const challenges = splitChallenges(fields).map((c) => parseDigestParams(c));
      expect(challenges.map((c) => c.algorithm?.value)).toEqual([...offered]);
      // Both challenges share one nonce (and opaque, when sent).
      expect(challenges[1]?.nonce?.value).toBe(challenges[0]?.nonce?.value);
      expect(challenges[1]?.opaque?.value).toBe(challenges[0]?.opaque?.value);

      const used = lastCredentials(result).algorithm?.value;
      expect((JSON.parse(result.body) as Echo).algorithm).toBe(used);
      expectOneLinePerChallenge(fields, offered);
      expect(used).toBe(offered[0]);
      const info = result.exchanges.at(-1)?.responseHeaders["authentication-info"]?.[0] ?? "";
      expect(parseDigestParams(info).rspauth?.value).toMatch(
        used === "MD5" ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{64}$/,
      );
    });
  }

  it("works with the default configuration (curl picks the first default algorithm)", async () => {
    const url = await serveDigest();
    const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);
    expect(result.status, `${result.body}\n${result.stderr}`).toBe(200);
    const fields = result.exchanges[0]?.responseHeaders["www-authenticate"] ?? [];
    const offered = splitChallenges(fields).map((c) => parseDigestParams(c).algorithm?.value);
    expect(offered.length).toBeGreaterThan(0);
    expectOneLinePerChallenge(fields, offered);
    expect((JSON.parse(result.body) as Echo).algorithm).toBe(offered[0]);
  });

  it("rejects a wrong password with 401, a problem+json body and fresh challenges", async () => {
    const url = await serveDigest({ algorithms: ["SHA-256", "MD5"] });
    const result = await runCurl(["--digest", "-u", `${USER}:not-the-password`, url]);

    expect(result.status).toBe(401);
    // curl gives up after one authenticated try: probe + one attempt.
    expect(result.exchanges).toHaveLength(2);
    const last = result.exchanges[1] as Exchange;
    expect(last.requestHeaders.authorization).toMatch(/^Digest /);
    expect(last.status).toBe(401);
    expect(last.responseHeaders["content-type"]?.[0]).toMatch(/^application\/problem\+json/);
    expect(splitChallenges(last.responseHeaders["www-authenticate"] ?? [])).toHaveLength(2);
    expect(last.responseHeaders["authentication-info"]).toBeUndefined();
    const problem = JSON.parse(result.body) as { status?: number };
    expect(problem.status).toBe(401);
  });

  it("rejects an unknown user with 401", async () => {
    const url = await serveDigest({ algorithms: ["MD5"] });
    const result = await runCurl(["--digest", "-u", `mallory:${PASSWORD}`, url]);
    expect(result.status).toBe(401);
  });

  it("authenticates a POST with a body; the body reaches the handler intact", async () => {
    const url = await serveDigest({ algorithms: ["SHA-256"], qop: ["auth"] });
    const payload = JSON.stringify({ hello: "world", n: [1, 2, 3] });
    const result = await runCurl([
      "--digest",
      "-u",
      `${USER}:${PASSWORD}`,
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      payload,
      url,
    ]);

    expect(result.status, result.stderr).toBe(200);
    const echo = JSON.parse(result.body) as Echo;
    expect(echo.method).toBe("POST");
    expect(echo.body).toBe(payload);
    expect(echo.algorithm).toBe("SHA-256");
    expect(result.exchanges.at(-1)?.requestLine).toMatch(/^POST \/protected\/echo /);
  });

  it("answers qop=auth-int on a GET (H(entity-body) of the empty body, RFC 7616 §3.4.3)", async () => {
    const url = await serveDigest({ algorithms: ["SHA-256"], qop: ["auth-int"] });
    const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);
    expect(result.status, `${result.body}\n${result.stderr}`).toBe(200);
    expect((JSON.parse(result.body) as Echo).qop).toBe("auth-int");
    expect(lastCredentials(result).qop?.value).toBe("auth-int");
  });

  it("accepts curl's userhash=true credentials (RFC 7616 §3.4.4)", async () => {
    const url = await serveDigest({ algorithms: ["SHA-256"], qop: ["auth"], userhash: true });
    const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);
    const [challenge] = splitChallenges(
      result.exchanges[0]?.responseHeaders["www-authenticate"] ?? [],
    ).map((c) => parseDigestParams(c));
    expect(challenge?.userhash?.value).toBe("true");

    expect(result.status, `${result.body}\n${result.stderr}`).toBe(200);
    const creds = lastCredentials(result);
    expect(creds.userhash?.value).toBe("true");
    // The username on the wire is H(username ":" realm), not the name.
    expect(creds.username?.value).toMatch(/^[0-9a-f]{64}$/);
    const echo = JSON.parse(result.body) as Echo;
    expect(echo.username).toBe(USER);
    expect(echo.userhash).toBe(true);
  });

  for (const qop of ["auth", "auth-int"] as const) {
    it(`keeps the handler's own headers next to Authentication-Info (qop=${qop}, real Node server)`, async () => {
      const url = await serveDigest({ algorithms: ["SHA-256"], qop: [qop] });
      const result = await runCurl([
        "--digest",
        "-u",
        `${USER}:${PASSWORD}`,
        url.replace(/echo$/, "raw"),
      ]);
      expect(result.status, result.stderr).toBe(200);
      expect(result.body).toBe("raw body");
      const headers = result.exchanges.at(-1)?.responseHeaders ?? {};
      expect(parseDigestParams(headers["authentication-info"]?.[0] ?? "").qop?.value).toBe(qop);
      // With auth-int the middleware reads the response body to bind rspauth to it (RFC 7616
      // §3.5); on @hono/node-server that must not drop headers set after the Response was made.
      expect(headers["x-handler"], JSON.stringify(headers)).toEqual(["kept"]);
    });
  }

  // curl before 8.8.0 hashes "SHA-512-256" with plain SHA-256 (fixed upstream in 8.8.0), so
  // only a newer curl can prove SHA-512/256 interop; the default order must not lead with it.
  const hasSha512256 = CURL_VERSION !== undefined && versionAtLeast(CURL_VERSION, [8, 8, 0]);
  it.skipIf(!hasSha512256)(
    `authenticates with SHA-512-256 (needs curl >= 8.8.0, found ${CURL_VERSION?.join(".")})`,
    async () => {
      const url = await serveDigest({ algorithms: ["SHA-512-256"], qop: ["auth"] });
      const result = await runCurl(["--digest", "-u", `${USER}:${PASSWORD}`, url]);
      expect(result.status, result.stderr).toBe(200);
      expect((JSON.parse(result.body) as Echo).algorithm).toBe("SHA-512-256");
    },
  );
});
