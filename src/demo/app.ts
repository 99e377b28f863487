/**
 * The smallest app that exercises the Digest middleware end to end: a public
 * health check plus two protected routes. It is built only from web-standard
 * APIs and Hono, so the very same module is served by Node, Deno and workerd
 * (src/runtime/*) and checked by one conformance suite (test/conformance).
 * Configuration comes in as a plain string map so every runtime can pass its
 * own environment (process.env, the Deno environment, Workers bindings).
 *
 * CPNS_DIGEST_ALGORITHMS picks the Digest profile as on the CPNS Server (issue
 * #12): a profile name also sets the qops offered (qop=auth alone for the
 * legacy profiles), a comma list only the challenge order. Browsers are tested
 * against this app's /hello (test/interop/browsers-digest.test.ts), because a
 * browser answers only qop=auth and the CPNS routes require auth-int.
 *
 * Implements: DIGEST-RUNTIME-NODE, DIGEST-RUNTIME-DENO, DIGEST-RUNTIME-WORKERD, DIGEST-CLIENTS-PROFILES, DIGEST-CLIENTS-CHROMIUM, DIGEST-CLIENTS-FIREFOX
 */
import type { Hono } from "hono";
import {
  type DigestAlgorithm,
  type DigestEnv,
  digestAuth,
  parseDigestAlgorithmSetting,
  type Qop,
  staticCredentials,
} from "../digest/index.ts";
import { shellApp } from "../protocol/app-shell.ts";
import { DEFAULT_BODY_LIMIT } from "../protocol/body.ts";

export interface DemoConfig {
  realm: string;
  /** Nonce MAC key; instances serving one realm must share it. */
  secret: string;
  /** username → password */
  users: Record<string, string>;
  /** Challenge order (default: the "strong" profile's). */
  algorithms?: readonly DigestAlgorithm[];
  /** Qops offered (default: auth and auth-int). */
  qop?: readonly Qop[];
}

export function createDemoApp(config: DemoConfig): Hono<DigestEnv> {
  // The shared shell (src/protocol/app-shell.ts): 404, errors and the body ceiling as on the CPNS Server.
  const app = shellApp<DigestEnv>({ maxBodyBytes: DEFAULT_BODY_LIMIT });
  const auth = digestAuth({
    realm: config.realm,
    secret: config.secret,
    lookup: staticCredentials(config.users),
    ...(config.algorithms ? { algorithms: config.algorithms } : {}),
    ...(config.qop ? { qop: config.qop } : {}),
  });

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.get("/hello", auth, (c) => {
    const principal = principalOf(c.var.digest);
    return c.json({ message: `hello ${principal.username}`, principal });
  });

  app.post("/echo", auth, async (c) => {
    const body = await c.req.text();
    return c.json({ body, principal: principalOf(c.var.digest) });
  });

  return app;
}

function principalOf(digest: DigestEnv["Variables"]["digest"]) {
  const { username, realm, algorithm, qop, userhash } = digest;
  return { username, realm, algorithm, qop, userhash };
}

/**
 * Reads CPNS_REALM (default "cpns-demo"), CPNS_DIGEST_SECRET (required) and
 * CPNS_DEMO_USERS ("alice:pw,bob:pw2"; a password may contain ":" but not ",")
 * and CPNS_DIGEST_ALGORITHMS (a profile: strong, legacy-first, md5-only, or a
 * comma list in challenge order).
 */
export function demoConfigFromEnv(env: Record<string, string | undefined>): DemoConfig {
  const secret = env.CPNS_DIGEST_SECRET;
  if (secret === undefined || secret === "") {
    throw new Error("CPNS_DIGEST_SECRET is required (at least 16 bytes, shared by all instances)");
  }
  return {
    realm: env.CPNS_REALM || "cpns-demo",
    secret,
    users: parseUsers(env.CPNS_DEMO_USERS ?? ""),
    ...digestSetting(env.CPNS_DIGEST_ALGORITHMS),
  };
}

function digestSetting(value: string | undefined): Pick<DemoConfig, "algorithms" | "qop"> {
  if (value === undefined || value.trim() === "") return {};
  try {
    const setting = parseDigestAlgorithmSetting(value);
    return { algorithms: setting.algorithms, ...(setting.qop ? { qop: setting.qop } : {}) };
  } catch (error) {
    // The message names the accepted values, never the value given.
    throw new Error(`CPNS_DIGEST_ALGORITHMS ${(error as Error).message}`);
  }
}

function parseUsers(spec: string): Record<string, string> {
  const users: Record<string, string> = {};
  for (const [index, entry] of spec.split(",").entries()) {
    if (entry.trim() === "") continue;
    const colon = entry.indexOf(":");
    const username = colon < 0 ? "" : entry.slice(0, colon).trim();
    if (username === "") {
      // Never echo the entry: it may be a password typed without its username.
      throw new Error(`CPNS_DEMO_USERS entry #${index + 1} is not of the form user:password`);
    }
    users[username] = entry.slice(colon + 1);
  }
  return users;
}
