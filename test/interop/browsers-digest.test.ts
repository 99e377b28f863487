/**
 * Issue #12 (The clients people have): the Digest profiles (src/digest/profiles.ts) measured
 * against the clients people have, each a real program on loopback: curl --digest, Python
 * requests' HTTPDigestAuth, Debian's Chromium (playwright-core, `httpCredentials`) and Debian's
 * Firefox ESR (puppeteer-core over WebDriver BiDi, `page.authenticate`). The server is the Digest
 * demo app (src/demo/app.ts) configured the way an operator does it, through
 * CPNS_DIGEST_ALGORITHMS=<profile> read by demoConfigFromEnv; the browsers are pointed at its
 * /hello because a browser answers only qop=auth and the CPNS routes require auth-int.
 *
 * For each profile and client the test reads ON THE SERVER which algorithm the client answered
 * (every Authorization header the server received is recorded, and /hello echoes the verified
 * principal), checks that the right password gets 200, and that a wrong one is refused: the
 * client gives up and ends on 401.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoApp, demoConfigFromEnv } from "../../src/demo/app.ts";
import { DIGEST_PROFILES, type DigestProfileName } from "../../src/digest/index.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../chromium.ts";
import {
  assertSucceeded,
  locateBinary,
  parseDigestParams,
  requirePrerequisites,
  runProcess,
} from "./helpers.ts";

const USER = "alice";
const PASSWORD = "Circle of Life";
const WRONG = "not the password";
const SECRET = "browsers-digest-nonce-secret-0123456789";

const FIREFOX = "/usr/bin/firefox-esr";
const PYTHON = "/usr/bin/python3";
const PY_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "requests_digest.py");
const CURL = locateBinary("curl", ["/usr/bin/curl"]);

type Client = "curl" | "python-requests" | "chromium" | "firefox-esr";

/**
 * What each client answers under each profile, as measured here (Debian 12: curl 7.88,
 * python3-requests 2.28.1, chromium 156, firefox-esr 153). curl and Chromium answer the FIRST challenge;
 * Python requests parses the joined WWW-Authenticate header as one parameter list, so it answers
 * the LAST challenge's algorithm (and fails outright on one it does not know, e.g. SHA-512-256);
 * Firefox picks the strongest it knows, whatever the order.
 */
const EXPECTED: Record<DigestProfileName, Record<Client, string>> = {
  strong: {
    curl: "SHA-256",
    "python-requests": "MD5",
    chromium: "SHA-256",
    "firefox-esr": "SHA-256",
  },
  "legacy-first": {
    curl: "MD5",
    "python-requests": "SHA-256",
    chromium: "MD5",
    "firefox-esr": "SHA-256",
  },
  "md5-only": { curl: "MD5", "python-requests": "MD5", chromium: "MD5", "firefox-esr": "MD5" },
};

interface Seen {
  path: string;
  authorization: string | null;
  status: number;
}

interface Target {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** Serves the demo app configured from an environment naming the profile, recording every request. */
async function serveProfile(profile: DigestProfileName): Promise<Target> {
  const app = createDemoApp(
    demoConfigFromEnv({
      CPNS_DIGEST_SECRET: SECRET,
      CPNS_DEMO_USERS: `${USER}:${PASSWORD}`,
      CPNS_DIGEST_ALGORITHMS: profile,
    }),
  );
  const seen: Seen[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const response = await app.fetch(request);
    seen.push({
      path: new URL(request.url).pathname,
      authorization: request.headers.get("authorization"),
      status: response.status,
    });
    return response;
  };
  let server: Server | undefined;
  const port = await new Promise<number>((resolve) => {
    server = serveNode({ fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve(info.port),
    ) as Server;
  });
  return {
    url: `http://127.0.0.1:${port}/hello`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server?.closeAllConnections?.();
        server?.close(() => resolve());
      }),
  };
}

/**
 * The outcome of one client run: the final status the client reports, or, when the client
 * abandoned the navigation instead of showing the 401 (Firefox driven over WebDriver BiDi, once
 * puppeteer cancels the second credential prompt), `abandoned` with the browser's error.
 */
interface Outcome {
  status: number;
  body: string;
  abandoned?: string;
}

/** The algorithms of the Digest answers the server received for /hello, in order. */
function answered(target: Target): string[] {
  return target.seen
    .filter((s) => s.path === "/hello" && s.authorization?.startsWith("Digest "))
    .map((s) => parseDigestParams(s.authorization as string).algorithm?.value ?? "(none: MD5)");
}

async function runCurl(url: string, password: string): Promise<Outcome> {
  const marker = "\n@@STATUS@@";
  const result = await runProcess(
    CURL as string,
    [
      "-q",
      "--noproxy",
      "*",
      "-sS",
      "--digest",
      "-u",
      `${USER}:${password}`,
      "-w",
      `${marker}%{http_code}`,
      url,
    ],
    { timeoutMs: 30_000 },
  );
  assertSucceeded("curl --digest", result);
  const at = result.stdout.lastIndexOf(marker);
  return {
    status: Number(result.stdout.slice(at + marker.length)),
    body: result.stdout.slice(0, at),
  };
}

async function runPython(url: string, password: string): Promise<Outcome> {
  const result = await runProcess(PYTHON, [PY_SCRIPT], {
    input: JSON.stringify({ username: USER, password, requests: [{ url }] }),
    timeoutMs: 30_000,
    env: { ...process.env, NO_PROXY: "*", no_proxy: "*", PYTHONNOUSERSITE: "1" },
  });
  assertSucceeded("python3 requests_digest.py", result);
  const [first] = (JSON.parse(result.stdout) as { results: { status: number; body: string }[] })
    .results;
  return { status: first?.status ?? 0, body: first?.body ?? "" };
}

async function runChromium(url: string, password: string): Promise<Outcome> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: 90_000,
  });
  try {
    const context = await browser.newContext({ httpCredentials: { username: USER, password } });
    const page = await context.newPage();
    const response = await page.goto(url, { timeout: 60_000 });
    return { status: response?.status() ?? 0, body: (await response?.text()) ?? "" };
  } finally {
    await browser.close();
  }
}

async function runFirefox(url: string, password: string): Promise<Outcome> {
  const profileDir = mkdtempSync(join(tmpdir(), "cpns-firefox-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profileDir,
    timeout: 90_000,
    // No updates, telemetry or remote settings traffic from the test profile.
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "network.proxy.type": 0,
      "datareporting.policy.dataSubmissionEnabled": false,
    },
  });
  try {
    const page = await browser.newPage();
    await page.authenticate({ username: USER, password });
    try {
      const response = await page.goto(url, { timeout: 60_000 });
      return { status: response?.status() ?? 0, body: (await response?.text()) ?? "" };
    } catch (error) {
      // Refused credentials: puppeteer cancels the repeated auth request and Firefox ends the
      // navigation with this network error instead of rendering the 401 page. Anything else fails.
      const message = (error as Error).message;
      if (!message.includes("NS_ERROR_NET_ERROR_RESPONSE")) throw error;
      return { status: 0, body: "", abandoned: message.split("\n")[0] ?? message };
    }
  } finally {
    await browser.close();
    rmSync(profileDir, { recursive: true, force: true });
  }
}

const RUNNERS: Record<Client, (url: string, password: string) => Promise<Outcome>> = {
  curl: runCurl,
  "python-requests": runPython,
  chromium: runChromium,
  "firefox-esr": runFirefox,
};

const IDS: Record<Client, string> = {
  curl: "DIGEST-CLIENTS-PROFILES",
  "python-requests": "DIGEST-CLIENTS-PROFILES",
  chromium: "DIGEST-CLIENTS-PROFILES, DIGEST-CLIENTS-CHROMIUM",
  "firefox-esr": "DIGEST-CLIENTS-PROFILES, DIGEST-CLIENTS-FIREFOX",
};

function prerequisites(client: Client): string[] {
  switch (client) {
    case "curl":
      return CURL ? [] : ["curl (Debian package curl)"];
    case "python-requests": {
      if (!existsSync(PYTHON)) return [`${PYTHON} (Debian package python3)`];
      const probe = spawnSync(PYTHON, ["-c", "import requests"], { encoding: "utf8" });
      return probe.status === 0 ? [] : ["python3-requests (Debian package python3-requests)"];
    }
    case "chromium":
      return existsSync(CHROMIUM) ? [] : [`${CHROMIUM} (Debian package chromium)`];
    case "firefox-esr":
      return existsSync(FIREFOX) ? [] : [`${FIREFOX} (Debian package firefox-esr)`];
  }
}

for (const profile of Object.keys(DIGEST_PROFILES) as DigestProfileName[]) {
  describe(`Digest profile ${profile} (CPNS_DIGEST_ALGORITHMS=${profile})`, {
    timeout: 240_000,
  }, () => {
    let target: Target;
    beforeAll(async () => {
      target = await serveProfile(profile);
    });
    afterAll(async () => {
      await target?.close();
    });

    for (const client of Object.keys(RUNNERS) as Client[]) {
      describe(client, () => {
        if (!requirePrerequisites(prerequisites(client))) return;
        const expected = EXPECTED[profile][client];

        it(`[${IDS[client]}] ${client} gets in with the right password and answers ${expected}`, async () => {
          const from = target.seen.length;
          const outcome = await RUNNERS[client](target.url, PASSWORD);
          const mine = { ...target, seen: target.seen.slice(from) };
          expect(outcome.status, outcome.body).toBe(200);
          // The server's own view: the verified principal, and every answer it received.
          const principal = (
            JSON.parse(outcome.body) as { principal: { algorithm: string; qop: string } }
          ).principal;
          expect(principal.algorithm).toBe(expected);
          expect(principal.qop).toBe("auth");
          expect(answered(mine)).toEqual([expected]);
          // The answer is one the profile offered.
          expect(DIGEST_PROFILES[profile].algorithms).toContain(expected);
        });

        it(`[${IDS[client]}] ${client} with a wrong password is refused and gives up on 401`, async () => {
          const from = target.seen.length;
          const outcome = await RUNNERS[client](target.url, WRONG);
          const mine = { ...target, seen: target.seen.slice(from) };
          if (client === "firefox-esr") {
            // Firefox gives up by abandoning the navigation (see runFirefox); the server's log below
            // proves the refusal.
            expect(outcome.abandoned ?? `status ${outcome.status}`).toContain(
              "NS_ERROR_NET_ERROR_RESPONSE",
            );
          } else {
            expect(outcome.status).toBe(401);
          }
          const tries = answered(mine);
          // It did try (so the refusal is the server's, not a client that never answered) ...
          expect(tries.length).toBeGreaterThanOrEqual(1);
          expect(tries.every((a) => a === expected)).toBe(true);
          // ... and every request the server saw for /hello was refused.
          expect(mine.seen.filter((s) => s.path === "/hello").every((s) => s.status === 401)).toBe(
            true,
          );
        });
      });
    }
  });
}
