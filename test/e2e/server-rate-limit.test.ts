/**
 * Failed-attempt limiting (issue #3) over real sockets: per username (failures
 * from several client addresses add up for one User ID) and per client
 * address (one address guessing several usernames), 429 with Retry-After even
 * for the right password until the window has passed, and then it works
 * again. Client addresses are real: the transport binds its socket to
 * 127.0.0.x and the server reads the socket's remote address, as
 * src/runtime/node.ts does. Also: an unknown user and a wrong password look
 * exactly alike.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  ALGORITHMS,
  computeUserhash,
  createDigestFetch,
  type DigestAlgorithm,
  type FetchLike,
} from "../../src/digest/index.ts";
import {
  expectProblem,
  REALM,
  startTestServer,
  type TestServer,
  transportFrom,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-rate-limit-password" };
const BOB = { userId: "bob", password: "bob-rate-limit-password" };
const WINDOW_S = 60;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<TestServer> {
  server = await startTestServer({ rateLimit: { maxFailures: 3, windowSeconds: WINDOW_S } });
  await server.createUser(ALICE.userId, ALICE.password);
  await server.createUser(BOB.userId, BOB.password);
  return server;
}

/** One attempt as `username` from `address`; the answer of the authenticated request. */
async function attempt(
  s: TestServer,
  address: string,
  username: string,
  password: string,
  form: { userhash?: boolean; algorithm?: DigestAlgorithm; edit?: (header: string) => string } = {},
): Promise<Response> {
  const socket = transportFrom(address);
  const edit = form.edit;
  const transport: FetchLike = edit
    ? (request) => {
        const header = request.headers.get("authorization");
        if (header === null) return socket(request);
        const headers = new Headers(request.headers);
        headers.set("authorization", edit(header));
        return socket(new Request(request, { headers }));
      }
    : socket;
  const digestFetch = createDigestFetch({
    username,
    password,
    fetch: transport,
    ...(form.userhash === undefined ? {} : { userhash: form.userhash }),
    ...(form.algorithm ? { algorithms: [form.algorithm] } : {}),
    // A 429 carries no rspauth; this test looks at statuses, not at the server's proof.
    requireRspauth: false,
  });
  return digestFetch(`${s.url}/cpns/v1/entities`);
}

describe("[SERVER-RATE-LIMIT] failed attempts are limited per username and per address", () => {
  it("[SERVER-RATE-LIMIT] 3 wrong passwords for alice (from 3 addresses) → 429 with Retry-After, even for the right password, until the window passes", async () => {
    const s = await start();
    for (const address of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
      await expectProblem(
        await attempt(s, address, "alice", "wrong"),
        401,
        "ERR_DIGEST_UNAUTHORIZED",
      );
    }
    // A fresh address, the right password: still refused, because of the username.
    const limited = await attempt(s, "127.0.0.5", "alice", ALICE.password);
    expect(limited.headers.get("retry-after")).toBe(String(WINDOW_S));
    await expectProblem(limited, 429, "ERR_RATE_LIMITED");
    // Bob, from one of the same addresses, is not affected (each address failed once).
    expect((await attempt(s, "127.0.0.2", "bob", BOB.password)).status).toBe(200);

    s.clock.now += 30_000;
    const later = await attempt(s, "127.0.0.5", "alice", ALICE.password);
    expect(later.headers.get("retry-after")).toBe("30");
    await expectProblem(later, 429, "ERR_RATE_LIMITED");

    s.clock.now += 30_000;
    const ok = await attempt(s, "127.0.0.5", "alice", ALICE.password);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("retry-after")).toBeNull();

    // The client answers SHA-512-256 with userhash (RFC 7616 §3.4.4), H(alice:realm); the log
    // names the identity it resolves to, never the hash.
    const sent = computeUserhash(ALGORITHMS["SHA-512-256"], "alice", REALM);
    const events = s.events();
    expect(events.some((e) => e.username === sent)).toBe(false);
    const failed = events.filter((e) => e.event === "auth.failed" && e.username === "alice");
    expect(failed.map((e) => e.address)).toEqual(["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    expect(events).toContainEqual(
      expect.objectContaining({
        event: "auth.rate_limited",
        username: "alice",
        address: "127.0.0.5",
      }),
    );
  });

  it("[SERVER-RATE-LIMIT] one address trying 3 different usernames is limited for every username, other addresses are not", async () => {
    const s = await start();
    const address = "127.0.0.10";
    await expectProblem(
      await attempt(s, address, "alice", "wrong-1"),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    await expectProblem(
      await attempt(s, address, "bob", "wrong-2"),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    await expectProblem(await attempt(s, address, "mallory", "x"), 401, "ERR_DIGEST_UNAUTHORIZED");

    // The next request from that address is refused before any credential is looked at:
    // the unauthenticated first request already gets 429.
    const raw = await transportFrom(address)(new Request(`${s.url}/cpns/v1/entities`));
    expect(raw.headers.get("retry-after")).toBe(String(WINDOW_S));
    await expectProblem(raw, 429, "ERR_RATE_LIMITED");
    await expectProblem(await attempt(s, address, "bob", BOB.password), 429, "ERR_RATE_LIMITED");
    // Another address: bob and alice are fine (each username failed only once).
    expect((await attempt(s, "127.0.0.11", "bob", BOB.password)).status).toBe(200);
    expect((await attempt(s, "127.0.0.11", "alice", ALICE.password)).status).toBe(200);
    // Public routes stay public.
    expect((await transportFrom(address)(new Request(`${s.url}/health`))).status).toBe(200);

    s.clock.now += WINDOW_S * 1000;
    expect((await attempt(s, address, "bob", BOB.password)).status).toBe(200);
  });

  it("[SERVER-RATE-LIMIT] a success clears the username's count, so failures must be consecutive-ish to lock", async () => {
    const s = await start();
    await attempt(s, "127.0.0.20", "alice", "wrong");
    await attempt(s, "127.0.0.21", "alice", "wrong");
    expect((await attempt(s, "127.0.0.22", "alice", ALICE.password)).status).toBe(200);
    await attempt(s, "127.0.0.23", "alice", "wrong");
    await attempt(s, "127.0.0.24", "alice", "wrong");
    expect((await attempt(s, "127.0.0.25", "alice", ALICE.password)).status).toBe(200);
  });

  it("[SERVER-RATE-LIMIT][ENTITY-LIFECYCLE] entities are limited too: a wrong EUKey 3 times locks the Entity ID", async () => {
    const s = await start();
    const record = await s.agent().enroll({ ...ALICE, entityId: "watch-rl", type: "PNE" });
    const whoami = (address: string, key: string) =>
      createDigestFetch({
        username: "watch-rl",
        password: key,
        fetch: transportFrom(address),
      })(`${s.url}/cpns/v1/whoami`);
    for (const address of ["127.0.0.30", "127.0.0.31", "127.0.0.32"]) {
      expect((await whoami(address, "A".repeat(43))).status).toBe(401);
    }
    await expectProblem(await whoami("127.0.0.33", record.eukey), 429, "ERR_RATE_LIMITED");
    s.clock.now += WINDOW_S * 1000;
    expect((await whoami("127.0.0.33", record.eukey)).status).toBe(200);
  });
});

describe("[SERVER-RATE-LIMIT] the per-username limit cannot be dodged by spelling the username differently", () => {
  /** Upper-cases the hex userhash in the Authorization header; the server accepts any case. */
  const upperUserhash = (header: string) =>
    header.replace(
      /username="([0-9a-f]+)"/,
      (_m, hex: string) => `username="${hex.toUpperCase()}"`,
    );

  it("[SERVER-RATE-LIMIT] each spelling on its own is counted (control)", async () => {
    const s = await start();
    for (const form of [
      { userhash: false },
      { algorithm: "MD5" as const },
      { edit: upperUserhash },
    ]) {
      // Each spelling authenticates with the right password...
      expect((await attempt(s, "127.0.0.60", "bob", BOB.password, form)).status).toBe(200);
    }
    for (const address of ["127.0.0.61", "127.0.0.62", "127.0.0.63"]) {
      await attempt(s, address, "alice", "wrong", { userhash: false });
    }
    await expectProblem(
      await attempt(s, "127.0.0.64", "alice", ALICE.password, { userhash: false }),
      429,
      "ERR_RATE_LIMITED",
    );
  });

  it("[SERVER-RATE-LIMIT] 3 wrong passwords for alice under 3 spellings (plain, userhash, upper-case userhash) lock alice", async () => {
    const s = await start();
    const spellings = [{ userhash: false }, {}, { edit: upperUserhash }];
    for (const [i, form] of spellings.entries()) {
      await expectProblem(
        await attempt(s, `127.0.0.7${i}`, "alice", "wrong", form),
        401,
        "ERR_DIGEST_UNAUTHORIZED",
      );
    }
    // The same User ID has failed 3 times: the right password must wait, however it is spelled.
    for (const form of [...spellings, { algorithm: "MD5" as const }]) {
      await expectProblem(
        await attempt(s, "127.0.0.79", "alice", ALICE.password, form),
        429,
        "ERR_RATE_LIMITED",
      );
    }
  });
});

describe("[SERVER-RATE-LIMIT][DIGEST-NO-ENUMERATION] an unknown user and a wrong password look alike", () => {
  it("[SERVER-RATE-LIMIT] same status, same body, same header names", async () => {
    const s = await start();
    const wrong = await attempt(s, "127.0.0.40", "alice", "not-alice-password");
    const unknown = await attempt(s, "127.0.0.41", "nobody-here", "not-alice-password");
    const unknownEntityish = await attempt(s, "127.0.0.42", "watch-nonexistent", "x");
    const bodies = await Promise.all([wrong, unknown, unknownEntityish].map((r) => r.text()));
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(bodies[1]).toBe(bodies[0]);
    expect(bodies[2]).toBe(bodies[0]);
    const names = (r: Response) => [...r.headers.keys()].filter((n) => n !== "date").sort();
    expect(names(unknown)).toEqual(names(wrong));
    // Both answers carry the same set of challenges (only the nonce differs).
    const shape = (r: Response) =>
      (r.headers.get("www-authenticate") ?? "").replace(/nonce="[^"]*"/g, 'nonce="…"');
    expect(shape(unknown)).toBe(shape(wrong));
  });
});
