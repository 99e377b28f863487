/**
 * Failure budgets (issue #3, reworked by issue #9 items 3, 4 and 8) over real
 * sockets, from the attacker's side: a concurrent burst costs what it sends;
 * budgets per (identity, address) with backoff; others' failures never lock
 * out a user at an address it signed in from, nor a new user behind a busy
 * address; entities (256-bit keys) are never locked out; and over budget the
 * answer tells nothing about the name. Client addresses are real: the
 * transport binds its socket to 127.0.0.x and the server reads the socket's
 * remote address, as src/runtime/node.ts does.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createDigestFetch, type DigestAlgorithm, type FetchLike } from "../../src/digest/index.ts";
import {
  expectProblem,
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

/** n wrong attempts at `username` from `address`, one after another; each must be 401. */
async function fail(s: TestServer, address: string, username: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await expectProblem(
      await attempt(s, address, username, `wrong-${i}`),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
  }
}

describe("[LIMIT-RESERVE] a concurrent burst costs what it sends", () => {
  it("[LIMIT-RESERVE] 200 concurrent wrong guesses from one address, then the right password: at most the free budget is evaluated and the right password gets 429", async () => {
    server = await startTestServer({ rateLimit: { maxFailures: 10, windowSeconds: WINDOW_S } });
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    const guesses = Array.from({ length: 200 }, (_, i) =>
      attempt(s, "127.0.0.2", "alice", `guess-${i}`),
    );
    const right = attempt(s, "127.0.0.2", "alice", ALICE.password);
    const answers = await Promise.all([...guesses, right]);
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(191);
    expect(statuses.at(-1)).toBe(429);
  }, 60_000);
});

describe("[LIMIT-PAIR] budgets per (identity, address) with backoff, not a lockout of the identity", () => {
  it("[LIMIT-PAIR][LIMIT-BACKOFF] an attacker's failures for alice from one address do not lock alice at another; the attacker waits 1 s, then 2 s", async () => {
    const s = await start();
    await fail(s, "127.0.0.2", "alice", 3);
    const limited = await attempt(s, "127.0.0.2", "alice", ALICE.password);
    expect(limited.headers.get("retry-after")).toBe("1");
    await expectProblem(limited, 429, "ERR_RATE_LIMITED");
    // The real alice, from her own address: not affected.
    expect((await attempt(s, "127.0.0.3", "alice", ALICE.password)).status).toBe(200);
    // Backoff: after the wait one more try, and the next wait doubles.
    s.clock.now += 1000;
    await fail(s, "127.0.0.2", "alice", 1);
    expect((await attempt(s, "127.0.0.2", "alice", "x")).headers.get("retry-after")).toBe("2");
  });

  it("[LIMIT-TRUSTED] alice signed in from home; attackers on 5 addresses exhaust alice's identity budget: alice at home still gets in, a new address does not", async () => {
    const s = await start();
    expect((await attempt(s, "127.0.0.5", "alice", ALICE.password)).status).toBe(200);
    for (const address of ["127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"]) {
      for (let i = 0; i < 2; i++) await attempt(s, address, "alice", "wrong");
    }
    expect((await attempt(s, "127.0.0.5", "alice", ALICE.password)).status).toBe(200);
    await expectProblem(
      await attempt(s, "127.0.0.6", "alice", ALICE.password),
      429,
      "ERR_RATE_LIMITED",
    );
  });

  it("[LIMIT-NAT] ten failures for other names from one address do not lock out a new user there, nor a user who signed in there", async () => {
    const s = await start();
    const nat = "127.0.0.30";
    expect((await attempt(s, nat, "alice", ALICE.password)).status).toBe(200);
    for (let i = 0; i < 10; i++) await fail(s, nat, `someone-${i}`, 1);
    // bob never signed in from here, and mistypes twice: his own budget, not the address's.
    await fail(s, nat, "bob", 2);
    expect((await attempt(s, nat, "bob", BOB.password)).status).toBe(200);
    expect((await attempt(s, nat, "alice", ALICE.password)).status).toBe(200);
  });

  it("[LIMIT-ADDRESS] an address spraying many names is stopped by the address budget (10 × the pair budget) for names it has not proven", async () => {
    const s = await start();
    const sprayer = "127.0.0.40";
    for (let i = 0; i < 30; i++) await fail(s, sprayer, `user-${i}`, 1);
    await expectProblem(await attempt(s, sprayer, "user-30", "x"), 429, "ERR_RATE_LIMITED");
    await expectProblem(
      await attempt(s, sprayer, "alice", ALICE.password),
      429,
      "ERR_RATE_LIMITED",
    );
    expect((await attempt(s, "127.0.0.41", "alice", ALICE.password)).status).toBe(200);
  });
});

describe("[LIMIT-KEYS] key-based principals are never locked out", () => {
  it("[LIMIT-KEYS][ENTITY-LIFECYCLE] 20 wrong EUKeys for an entity from one address: the entity with its key still gets in from there; a wrong key gets 429", async () => {
    const s = await start();
    const record = await s.agent().enroll({ ...ALICE, entityId: "watch-rl", type: "PNE" });
    const whoami = (address: string, key: string) =>
      createDigestFetch({
        username: "watch-rl",
        password: key,
        fetch: transportFrom(address),
        requireRspauth: false,
      })(`${s.url}/cpns/v1/whoami`);
    for (let i = 0; i < 20; i++) await (await whoami("127.0.0.50", "A".repeat(43))).arrayBuffer();
    await expectProblem(await whoami("127.0.0.50", "B".repeat(43)), 429, "ERR_RATE_LIMITED");
    expect((await whoami("127.0.0.50", record.eukey)).status).toBe(200);
    expect((await whoami("127.0.0.51", record.eukey)).status).toBe(200);
  });
});

describe("[LIMIT-KEYS][ORACLE-LIMIT] a stale nonce over budget", () => {
  it("[LIMIT-KEYS][ORACLE-LIMIT] over budget with an expired nonce: the entity's right key gets stale and then 200; the user's right password gets 429, never the stale 401 that would confirm it", async () => {
    server = await startTestServer({
      nonceLifetimeSeconds: 5,
      rateLimit: { maxFailures: 3, windowSeconds: 600 },
    });
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    const record = await s.agent().enroll({ ...ALICE, entityId: "watch-stale", type: "PNE" });
    const address = "127.0.0.90";
    // One client each that keeps its nonce between requests, as real clients do.
    // Every answer on the wire is recorded: a stale=true challenge would confirm the secret.
    const seen: Record<string, string[]> = { "watch-stale": [], alice: [] };
    const keep = (username: string, password: string) => {
      const socket = transportFrom(address);
      const digestFetch = createDigestFetch({
        username,
        password,
        fetch: async (request) => {
          const res = await socket(request);
          const stale = /stale=true/i.test(res.headers.get("www-authenticate") ?? "");
          seen[username]?.push(`${res.status}${stale ? " stale" : ""}`);
          return res;
        },
        requireRspauth: false,
      });
      return () => digestFetch(`${s.url}/cpns/v1/whoami`);
    };
    const entity = keep("watch-stale", record.eukey);
    const alice = keep("alice", ALICE.password);
    expect((await entity()).status).toBe(200);
    expect((await alice()).status).toBe(403); // a user on an entity route: authenticated, then refused
    // Others at the same address exhaust both pair budgets, with backoff, past the nonce lifetime.
    for (const name of ["watch-stale", "alice"]) {
      // Wrong answers, waiting out each backoff, until the wait outlasts the nonce lifetime.
      for (let round = 0; round < 30; round++) {
        const res = await attempt(s, address, name, "wrong");
        await res.arrayBuffer();
        const wait = Number(res.headers.get("retry-after") ?? 0);
        if (wait > 5) break;
        s.clock.now += wait * 1000;
      }
    }
    const limited = await attempt(s, address, "alice", "wrong");
    await expectProblem(limited, 429, "ERR_RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(5);
    for (const name of Object.keys(seen)) seen[name] = [];
    expect((await entity()).status).toBe(200);
    await expectProblem(await alice(), 429, "ERR_RATE_LIMITED");
    expect(seen["watch-stale"]).toEqual(["401 stale", "200"]);
    expect(seen.alice).toEqual(["429"]);
  });
});

describe("[LIMIT-PROVEN] an answer that proves the secret on a used nonce-count is no guess", () => {
  /** A transport from `address` that records every wire status and every request it sent. */
  function recording(address: string) {
    const socket = transportFrom(address);
    const wire: number[] = [];
    const sent: Request[] = [];
    const transport: FetchLike = async (request) => {
      sent.push(request.clone());
      const res = await socket(request);
      wire.push(res.status);
      return res;
    };
    return { transport, wire, sent };
  }

  it("[LIMIT-PROVEN][LIMIT-KEYS] a request overtaken on a parallel connection by more than the replay window, while others' failures at the same address put the entity over budget: 401 and a retry that gets 200, never 429", async () => {
    const s = await start();
    const record = await s.agent().enroll({ ...ALICE, entityId: "gw-overtaken", type: "PNGW" });
    const address = "127.0.0.97";
    const { transport, wire } = recording(address);
    // The overtaken request is held on its way out until the others have been answered.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holdNext = false;
    const client = createDigestFetch({
      username: "gw-overtaken",
      password: record.eukey,
      requireRspauth: true,
      fetch: async (request) => {
        if (holdNext && request.headers.has("authorization")) {
          holdNext = false;
          await gate;
        }
        return transport(request);
      },
    });
    const whoami = () => client(`${s.url}/cpns/v1/whoami`);
    expect((await whoami()).status).toBe(200); // nc=1, the nonce is now cached
    holdNext = true;
    const overtaken = whoami(); // nc=2, held
    // 33 later requests on the same nonce (nc=3..35): nc=2 is then older than the 32-wide window.
    for (let i = 0; i < 33; i++) expect((await whoami()).status).toBe(200);
    // Someone else at the same address (a NAT, the PN GW relay) guesses the entity's key.
    for (let i = 0; i < 5; i++)
      await (await attempt(s, address, "gw-overtaken", `wrong-${i}`)).arrayBuffer();
    await expectProblem(
      await attempt(s, address, "gw-overtaken", "wrong"),
      429,
      "ERR_RATE_LIMITED",
    );
    wire.length = 0;
    release();
    const res = await overtaken;
    expect(res.status).toBe(200);
    // The overtaken answer was refused with a challenge, not 429; the client's retry passed.
    expect(wire).toEqual([401, 200]);
    expect(s.events().filter((e) => e.event === "auth.replayed")).toEqual([]); // over budget: not logged as a replay
  });

  it("[LIMIT-PROVEN][LIMIT-TRUSTED] a user's own request sent again 10 times (budget 3) is refused with 401 each time and charged nothing: the user's next fresh answer still gets in; the replays are logged as auth.replayed", async () => {
    const s = await start();
    const address = "127.0.0.98";
    const { transport, wire, sent } = recording(address);
    const alice = createDigestFetch({
      ...ALICE,
      username: ALICE.userId,
      fetch: transport,
      requireRspauth: true,
    });
    expect((await alice(`${s.url}/cpns/v1/entities`)).status).toBe(200);
    const captured = sent.find((r) => r.headers.has("authorization"));
    expect(captured).toBeDefined();
    for (let i = 0; i < 10; i++) {
      await expectProblem(
        await transport((captured as Request).clone()),
        401,
        "ERR_DIGEST_UNAUTHORIZED",
      );
    }
    wire.length = 0;
    expect((await alice(`${s.url}/cpns/v1/entities`)).status).toBe(200);
    expect(wire).toEqual([200]);
    const replayed = s.events().filter((e) => e.event === "auth.replayed");
    // Aggregated per address: the first line at once, the other 9 counted at the interval's end.
    // (The CPNS client sends a userhash, which the line names as sent.)
    expect(replayed).toEqual([expect.objectContaining({ address })]);
    expect(s.events().filter((e) => e.event === "auth.failed")).toEqual([]);
  });

  it("[LIMIT-PROVEN][SERVER-SECURITY-LOG] a right answer on an expired nonce is neither charged nor logged: stale, then 200, and no auth.replayed or auth.failed line", async () => {
    server = await startTestServer({
      nonceLifetimeSeconds: 5,
      rateLimit: { maxFailures: 3, windowSeconds: WINDOW_S },
    });
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    const record = await s.agent().enroll({ ...ALICE, entityId: "watch-expired", type: "PNE" });
    const { transport, wire } = recording("127.0.0.99");
    const client = createDigestFetch({
      username: "watch-expired",
      password: record.eukey,
      fetch: transport,
      requireRspauth: true,
    });
    expect((await client(`${s.url}/cpns/v1/whoami`)).status).toBe(200);
    s.clock.now += 6_000; // past the nonce's lifetime: the kept nonce is now stale
    wire.length = 0;
    expect((await client(`${s.url}/cpns/v1/whoami`)).status).toBe(200);
    expect(wire).toEqual([401, 200]);
    const auth = s.events().filter((e) => e.event.startsWith("auth."));
    expect(auth).toEqual([]);
  });

  it("[LIMIT-PROVEN][ORACLE-LIMIT] over budget, a user's own captured request sent again gets 429 like any answer (a 401 would confirm a guess); an entity's gets 401", async () => {
    const s = await start();
    const record = await s.agent().enroll({ ...ALICE, entityId: "watch-replayed", type: "PNE" });
    const answers: Record<string, number> = {};
    for (const [i, [name, secret, path]] of (
      [
        ["alice", ALICE.password, "/cpns/v1/entities"],
        ["watch-replayed", record.eukey, "/cpns/v1/whoami"],
      ] as const
    ).entries()) {
      const address = `127.0.0.10${i}`;
      const { transport, sent } = recording(address);
      const client = createDigestFetch({
        username: name,
        password: secret,
        fetch: transport,
        requireRspauth: true,
      });
      expect((await client(`${s.url}${path}`)).status).toBe(200);
      const captured = sent.find((r) => r.headers.has("authorization")) as Request;
      for (let k = 0; k < 12; k++)
        await (await attempt(s, address, name, `wrong-${k}`)).arrayBuffer();
      await expectProblem(await attempt(s, address, name, "wrong"), 429, "ERR_RATE_LIMITED");
      const replay = await transport(captured.clone());
      await replay.arrayBuffer();
      answers[name] = replay.status;
    }
    expect(answers).toEqual({ alice: 429, "watch-replayed": 401 });
  });
});

describe("[ORACLE-LIMIT] over budget, the answer does not tell a user, an entity or nothing apart", () => {
  it("[ORACLE-LIMIT] user, entity and unknown name over budget: same status, header names, Retry-After and body; userhash spellings alike too", async () => {
    const s = await start();
    await s.agent().enroll({ ...ALICE, entityId: "watch-oracle", type: "PNE" });
    const names = ["alice", "watch-oracle", "nobody-here"];
    const answers: Response[] = [];
    for (const [i, name] of names.entries()) {
      const address = `127.0.0.6${i}`;
      await fail(s, address, name, 3);
      answers.push(await attempt(s, address, name, "still-wrong"));
    }
    const bodies = await Promise.all(answers.map((r) => r.text()));
    const shape = (r: Response) => [
      r.status,
      r.headers.get("retry-after"),
      [...r.headers.keys()].filter((n) => n !== "date").sort(),
    ];
    expect(answers[0]?.status).toBe(429);
    for (const [i, r] of answers.entries()) {
      expect(shape(r)).toEqual(shape(answers[0] as Response));
      expect(bodies[i]).toBe(bodies[0]);
    }
    // Userhash probes: 3 failures under the MD5 userhash, then the SHA-256 userhash.
    // An existing and a missing name answer alike (the limiter reads no store).
    const probe = async (name: string, address: string) => {
      for (let i = 0; i < 3; i++) {
        await (await attempt(s, address, name, "w", { algorithm: "MD5" })).arrayBuffer();
      }
      const md5 = await attempt(s, address, name, "w", { algorithm: "MD5" });
      const sha = await attempt(s, address, name, "w", { algorithm: "SHA-256" });
      await Promise.all([md5.arrayBuffer(), sha.arrayBuffer()]);
      return [md5.status, sha.status];
    };
    expect(await probe("bob", "127.0.0.70")).toEqual(await probe("nobody-else", "127.0.0.71"));
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
    for (let i = 0; i < 3; i++)
      await attempt(s, "127.0.0.61", "alice", "wrong", { userhash: false });
    await expectProblem(
      await attempt(s, "127.0.0.61", "alice", ALICE.password, { userhash: false }),
      429,
      "ERR_RATE_LIMITED",
    );
  });

  it("[SERVER-RATE-LIMIT][LIMIT-SPELLING] 3 wrong plain passwords for alice lock every spelling (userhash of any hash, any case); 3 under a userhash (either case) lock that userhash and the plain name", async () => {
    const s = await start();
    const every = [{ userhash: false }, {}, { edit: upperUserhash }, { algorithm: "MD5" as const }];
    for (let i = 0; i < 3; i++) {
      await expectProblem(
        await attempt(s, "127.0.0.70", "alice", "wrong", { userhash: false }),
        401,
        "ERR_DIGEST_UNAUTHORIZED",
      );
    }
    for (const form of every) {
      await expectProblem(
        await attempt(s, "127.0.0.70", "alice", ALICE.password, form),
        429,
        "ERR_RATE_LIMITED",
      );
    }
    for (const form of [{}, { edit: upperUserhash }, {}]) {
      await expectProblem(
        await attempt(s, "127.0.0.71", "alice", "wrong", form),
        401,
        "ERR_DIGEST_UNAUTHORIZED",
      );
    }
    for (const form of [{ userhash: false }, {}, { edit: upperUserhash }]) {
      await expectProblem(
        await attempt(s, "127.0.0.71", "alice", ALICE.password, form),
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
