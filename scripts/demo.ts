/**
 * `npm run demo` (issue #13, "The narrated demo"): the whole CPNS story of the seed (5.x.1-5.x.4) on
 * loopback with real servers, narrated step by step. A real CPNS Server process (`tsx
 * src/runtime/node.ts`, HTTPS with its generated certificate, trusted by its SPKI pin as a device
 * would), two PN GWs (the PnGateway app served on loopback as `cpns gateway serve` does; gw-1 on
 * HTTPS with its pin sealed in its OTKs), and the project's own agents (EntityAgent, OtkClient,
 * PeerSession, ServerChannel, PeerChannel) drive it exactly as devices would. Each step prints what
 * happens, the seed section and requirement ids, and the machine states that changed (device key
 * stores, peer sessions, channels, and the server's entity machine through its admin state route).
 * At the end a Mermaid sequence diagram of every real request is written (default ./demo-story.mmd,
 * --out <file> to change it); the exit status is 1, naming the step, if anything did not happen as
 * narrated. Everything is torn down at the end, also on failure.
 *
 * Test hook (test/e2e/demo.test.ts only): CPNS_DEMO_BREAK=<step number> makes that step's checks
 * see the wrong outcome, to prove the failure path (exit 1, the step named, everything torn down).
 *
 * Implements: DEMO-STORY, DEMO-DIAGRAM
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EntityAgent } from "../src/agent/agent.ts";
import { ServerChannel } from "../src/agent/channel-client.ts";
import { agentDigestFetch } from "../src/agent/digest-fetch.ts";
import { MemoryKeyStore } from "../src/agent/keystore.ts";
import { OtkClient, type ReceivedOtk } from "../src/agent/otk-client.ts";
import { PeerSession } from "../src/agent/peer.ts";
import { fromBase64url } from "../src/crypto/bytes.ts";
import { digestExchangeOf, type FetchLike } from "../src/digest/index.ts";
import { PnGateway } from "../src/gateway/gateway.ts";
import {
  ADMIN_KEY_PATH,
  type AdminKeyDocument,
  adminKeyPin,
  sealAdminSecret,
} from "../src/protocol/admin-transport.ts";
import { type Serving, serveUntilSignal } from "../src/runtime/node-gateway.ts";
import { createTrustedFetch, type TrustedFetch } from "../src/runtime/node-tls-trust.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ALICE = { userId: "alice", password: "demo-Alice-passphrase-42" };
const BOB = { userId: "bob", password: "demo-Bob-passphrase-42" };

// ------------------------------------------------------------------ arguments and the test hook

/** Relative to where `npm run demo` was typed (npm itself runs scripts from the package root). */
function outPath(argv: string[]): string {
  const here = process.env.INIT_CWD ?? process.cwd();
  const at = argv.indexOf("--out");
  if (at >= 0) {
    const value = argv[at + 1];
    if (!value) usage("--out needs a file name");
    return resolve(here, value);
  }
  return resolve(here, "demo-story.mmd");
}

function usage(message: string): never {
  console.error(`demo: ${message}\nusage: npm run demo -- [--out <file.mmd>]`);
  process.exit(2);
}

const BREAK = Number(process.env.CPNS_DEMO_BREAK ?? 0);

// ------------------------------------------------------------------ the diagram

type Who = "User" | "PNE" | "GW1" | "GW2" | "Server";
const LABEL: Record<Who, string> = {
  User: "User",
  PNE: "PNE pne-1",
  GW1: "PN GW gw-1",
  GW2: "PN GW gw-2",
  Server: "CPNS Server",
};
const diagram: string[] = [];
const origins = new Map<string, Who>();

/** A transport that draws one arrow per real request: from `from` to whoever listens at the URL. */
function drawn(from: Who, inner: FetchLike, capture?: (request: Request) => void): FetchLike {
  return async (request) => {
    const url = new URL(request.url);
    const to = origins.get(url.origin) ?? "Server";
    if (capture && request.headers.has("authorization")) capture(request.clone());
    const res = await inner(request);
    diagram.push(`  ${from}->>${to}: ${request.method} ${url.pathname} (${res.status})`);
    return res;
  };
}

function note(text: string): void {
  diagram.push(`  Note over User,Server: ${text.replace(/[;#]/g, ",")}`);
}

// ------------------------------------------------------------------ steps

class StepFailure extends Error {}
let current = { n: 0, title: "starting" };

function check(condition: boolean, what: string): void {
  if (!condition || current.n === BREAK) {
    const hook = current.n === BREAK ? " (forced by the test hook CPNS_DEMO_BREAK)" : "";
    throw new StepFailure(`${what}${hook}`);
  }
}

async function step(
  n: number,
  title: string,
  where: string,
  run: () => Promise<string[]>,
): Promise<void> {
  current = { n, title };
  console.log(`\nStep ${n}. ${title}\n   [${where}]`);
  note(`Step ${n}. ${title}`);
  const lines = await run();
  for (const line of lines) console.log(`   ${line}`);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code ?? (err as Error).message;
  }
  return "";
}

// ------------------------------------------------------------------ the server process

interface ServerProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
}

async function startServer(dataDir: string): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1" };
  for (const name of Object.keys(env)) if (name.startsWith("CPNS_")) delete env[name];
  env.CPNS_DATA_DIR = dataDir;
  const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["src/runtime/node.ts"], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: tsx forks, and teardown must reach both
  });
  serverChild = child;
  let log = "";
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no "listening" line in 90 s:\n${log}`)), 90_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      const match = /CPNS Server listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match?.[1]) {
        clearTimeout(timer);
        ok(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`the CPNS Server exited (code ${code}):\n${log}`));
    });
  }).catch(async (err: unknown) => {
    await stopServer(child); // a server that never said it listens still goes
    throw err;
  });
  return { url, dataDir, child };
}

/** The server process, from the moment it is spawned: teardown must reach it even mid-start. */
let serverChild: ChildProcess | undefined;

async function stopServer(child: ChildProcess | undefined): Promise<void> {
  const pid = child?.pid;
  if (!child || pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  const late = new Promise<"late">((ok) => setTimeout(() => ok("late"), 5000).unref());
  if ((await Promise.race([exited, late])) === "late") {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

// ------------------------------------------------------------------ the story

interface Device {
  id: string;
  store: MemoryKeyStore;
  agent: EntityAgent;
  otks: OtkClient;
}

async function main(): Promise<void> {
  const out = outPath(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), "cpns-demo-"));
  const started = Date.now();
  const closers: Array<() => Promise<void>> = [];
  let server: ServerProcess | undefined;
  let failed: unknown;
  // Ctrl-C: the server runs in its own process group, so it is stopped here, not by the terminal.
  const interrupted = async () => {
    console.error(`\ninterrupted at step ${current.n}: stopping everything`);
    await stopServer(serverChild);
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    console.log("The CPNS story, narrated (seed 5.x.1-5.x.4; ids as in spec/requirements.md)");
    server = await startServer(join(work, "server"));
    const base = server.url;
    origins.set(new URL(base).origin, "Server");
    const pin = readFileSync(join(server.dataDir, "tls.pin"), "utf8").trim();
    const adminToken = readFileSync(join(server.dataDir, "admin.token"), "utf8").trim();
    const adminPin = readFileSync(join(server.dataDir, "admin-key.pin"), "utf8").trim();
    const tls: TrustedFetch = createTrustedFetch({ pin });
    closers.push(() => tls.close());
    console.log(`CPNS Server: ${base} (HTTPS, its certificate trusted by its pin ${pin})`);

    const serverState = async (id: string): Promise<string> => {
      const res = await drawn(
        "User",
        tls,
      )(
        new Request(`${base}/cpns/v1/admin/entities/${id}/state`, {
          headers: { authorization: `Bearer ${adminToken}` },
        }),
      );
      if (res.status !== 200) return `(state route ${res.status})`;
      const view = (await res.json()) as { value: unknown; context: { keyVersion: number } };
      return `${String(view.value)} v${view.context.keyVersion}`;
    };
    const deviceState = async (d: Device): Promise<string> => {
      const record = await d.store.get(d.id);
      return `${record?.machine.value ?? "none"} v${record?.keyVersion ?? 0}`;
    };
    const states = async (...devices: Device[]): Promise<string> => {
      const parts: string[] = [];
      for (const d of devices) {
        parts.push(`${d.id}: device ${await deviceState(d)}, server ${await serverState(d.id)}`);
      }
      return `states: ${parts.join("; ")}`;
    };

    const device = (id: string, who: Who, capture?: (r: Request) => void): Device => {
      const store = new MemoryKeyStore();
      const agent = new EntityAgent({ serverUrl: base, store, fetch: drawn(who, tls, capture) });
      return { id, store, agent, otks: new OtkClient({ agent, store }) };
    };
    let captured: Request | undefined;
    const gw1 = device("gw-1", "GW1");
    const gw2 = device("gw-2", "GW2");
    const pne = device("pne-1", "PNE", (request) => {
      if (new URL(request.url).pathname === "/cpns/v1/whoami") captured = request;
    });

    // 1. The CPNS User, created through the admin API with the password sealed to the pinned key.
    await step(
      1,
      "the operator creates CPNS Users alice (the owner of everything below) and bob (the target of step 8) through the admin API; each password travels sealed to the server's pinned admin key",
      "seed 5.x.1; SEED-5.x.1-1, ADMIN-SEALED-SECRET, ADMIN-KEY-PIN",
      async () => {
        const lines: string[] = [];
        for (const user of [ALICE, BOB]) {
          const adminFetch = drawn("User", tls);
          const keyRes = await adminFetch(new Request(`${base}${ADMIN_KEY_PATH}`));
          const key = (await keyRes.json()) as AdminKeyDocument;
          const publicKey = fromBase64url(key.x);
          check((await adminKeyPin(publicKey)) === adminPin, "the admin key matches its pin");
          const sealed = await sealAdminSecret(publicKey, user.userId, user.password);
          const res = await adminFetch(
            new Request(`${base}/cpns/v1/admin/users`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${adminToken}`,
                "content-type": "application/json",
              },
              body: JSON.stringify({ userId: user.userId, sealed }),
            }),
          );
          check(res.status === 201, `user ${user.userId} created (got ${res.status})`);
          lines.push(`created ${user.userId} (201); the admin key matched its pin`);
        }
        return lines;
      },
    );

    // 2. Enrollment of the three entities; each proves its key and the server proves itself back.
    await step(
      2,
      "alice enrolls PN GW gw-1, PN GW gw-2 and PNE pne-1; each receives its EUKey sealed, then authenticates (whoami) and checks the server's rspauth",
      "seed 5.x.1; SEED-5.x.1-1, SEED-5.x.1-2, FFS-SERVER-AUTH",
      async () => {
        for (const [d, type] of [
          [gw1, "PNGW"],
          [gw2, "PNGW"],
          [pne, "PNE"],
        ] as const) {
          await d.agent.enroll({ ...ALICE, entityId: d.id, type, tls: true });
          const res = await d.agent.fetchAsEntity(d.id, "/cpns/v1/whoami");
          check(res.status === 200, `${d.id} whoami is 200 (got ${res.status})`);
          check(digestExchangeOf(res) !== undefined, `${d.id}: the server proved itself (rspauth)`);
        }
        return [
          "three EUKeys delivered; three whoamis answered with a verified rspauth",
          await states(gw1, gw2, pne),
        ];
      },
    );

    // The two PN GWs, served on loopback as `cpns gateway serve` does.
    const upstreamSeen: Buffer[] = [];
    let tamper = false;
    const upstream: FetchLike = async (request) => {
      upstreamSeen.push(Buffer.from(await request.clone().arrayBuffer()));
      const answer = await drawn("GW1", tls)(request);
      const body = Buffer.from(await answer.arrayBuffer());
      upstreamSeen.push(body);
      // The attack of step 8: rewrite what the entity is told it is.
      const rewritten = tamper ? body.toString("utf8").replace('"PNE"', '"PNGW"') : body;
      return new Response(answer.status === 204 ? null : rewritten, {
        status: answer.status,
        headers: answer.headers,
      });
    };
    let gateway1!: PnGateway;
    const serving1: Serving = await serveUntilSignal({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => gateway1.app.fetch(request),
      tls: { folder: join(work, "gw-1"), commonName: "gw-1", hosts: ["127.0.0.1"] },
    });
    closers.push(() => serving1.close());
    origins.set(new URL(serving1.url).origin, "GW1");
    gateway1 = new PnGateway({
      gatewayId: "gw-1",
      serverUrl: base,
      agent: gw1.agent,
      store: gw1.store,
      digestSecret: randomBytes(32),
      endpoint: serving1.url,
      ...(serving1.certificate ? { tlsPin: serving1.certificate.pin } : {}),
      upstream,
    });
    let gateway2!: PnGateway;
    const serving2 = await serveUntilSignal({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => gateway2.app.fetch(request),
    });
    closers.push(() => serving2.close());
    origins.set(new URL(serving2.url).origin, "GW2");
    gateway2 = new PnGateway({
      gatewayId: "gw-2",
      serverUrl: base,
      agent: gw2.agent,
      store: gw2.store,
      endpoint: serving2.url,
      upstream: drawn("GW2", tls),
    });
    console.log(`\nPN GW gw-1: ${serving1.url} (HTTPS, pin ${serving1.certificate?.pin})`);
    console.log(`PN GW gw-2: ${serving2.url}`);

    // 3. OTKs: gw-1 to pne-1 and gw-1 to gw-2, each delivered once.
    let toPne!: ReceivedOtk;
    let toGw2!: ReceivedOtk;
    let pneOtkId = "";
    await step(
      3,
      "gw-1 deposits a one-time key for pne-1 and one for gw-2 (PN GW to PN GW); each peer fetches its OTK, sealed under its own EUKey",
      "seed 5.x.2; SEED-5.x.2-3, SEED-5.x.2-4, SEED-5.x.2-5, OTK-DEPOSIT, OTK-DELIVERY, OTK-TLS-PIN",
      async () => {
        const a = await gateway1.offer("pne-1");
        const b = await gateway1.offer("gw-2");
        check(a.peerType === "PNE" && b.peerType === "PNGW", "both OTKs deposited");
        const inboxPne = await pne.otks.inbox("pne-1");
        const inboxGw2 = await gw2.otks.inbox("gw-2");
        check(
          inboxPne.some((o) => o.otkId === a.otkId),
          "pne-1 sees its OTK",
        );
        check(
          inboxGw2.some((o) => o.otkId === b.otkId),
          "gw-2 sees its OTK",
        );
        toPne = await pne.otks.fetch("pne-1", a.otkId);
        toGw2 = await gw2.otks.fetch("gw-2", b.otkId);
        pneOtkId = a.otkId;
        check(toPne.view.tlsPin === serving1.certificate?.pin, "gw-1's TLS pin came with the OTK");
        return [
          `OTK ${a.otkId} for pne-1 and ${b.otkId} for gw-2, each delivered (once)`,
          `gw-1's TLS pin travelled sealed with each OTK: the peers will pin it`,
        ];
      },
    );

    // 4. Mutual peer authentication and a message in each peer session.
    let pneSession!: PeerSession;
    let gw2Session!: PeerSession;
    await step(
      4,
      "pne-1 and gw-2 each authenticate gw-1 with Digest over their OTK, and gw-1 authenticates them back (rspauth); one message in each session",
      "seed 5.x.2; SEED-5.x.2-6, SEED-5.x.2-7, PEER-DIGEST, PEER-SESSION",
      async () => {
        const peerTls = createTrustedFetch({ pin: toPne.view.tlsPin ?? "" });
        closers.push(() => peerTls.close());
        pneSession = await PeerSession.open({
          entityId: "pne-1",
          received: toPne,
          fetch: drawn("PNE", peerTls),
        });
        gw2Session = await PeerSession.open({
          entityId: "gw-2",
          received: toGw2,
          fetch: drawn("GW2", peerTls),
        });
        const e1 = await pneSession.send("hello gw-1, pne-1 here");
        const e2 = await gw2Session.send("hello gw-1, gw-2 here");
        check(e1.echo === "hello gw-1, pne-1 here" && e1.from === "pne-1", "pne-1's message");
        check(e2.echo === "hello gw-1, gw-2 here" && e2.from === "gw-2", "gw-2's message");
        return [
          `sessions ${pneSession.sessionId} (pne-1) and ${gw2Session.sessionId} (gw-2): both ends proven, messages echoed`,
          `states: pne-1 session ${pneSession.state}, gw-2 session ${gw2Session.state}; gw-1 sees ${gateway1
            .states()
            .map((s) => s.state)
            .join(", ")}`,
        ];
      },
    );

    // 5. Secure sessions in each mode.
    await step(
      5,
      "secure sessions in each mode: TLS (every hop above is HTTPS, pinned), and the CPNS secure channel: gw-2 to the server, pne-1 to gw-1",
      "seed 5.x.4; SEED-5.x.4-1, SEED-5.x.4-3, SEED-5.x.4-4, SEED-5.x.4-6, FFS-NO-TLS",
      async () => {
        const toServer = await ServerChannel.open({
          agent: gw2.agent,
          store: gw2.store,
          entityId: "gw-2",
          serverUrl: base,
          fetch: drawn("GW2", tls),
        });
        const opened = toServer.state;
        const who = await toServer.fetch("/cpns/v1/whoami");
        check(who.status === 200, `gw-2's whoami inside the channel (got ${who.status})`);
        await toServer.close();
        const peer = await pneSession.openChannel();
        const echo = await peer.send("inside the channel");
        check(echo.echo === "inside the channel", "pne-1's message inside the peer channel");
        const peerState = peer.state;
        await peer.close();
        return [
          "gw-2 to the CPNS Server: a channel keyed from its Digest exchange, whoami inside it (200)",
          "pne-1 to gw-1: a channel keyed from the peer session, a message inside it, echoed",
          `states: server channel ${opened} -> ${toServer.state}; peer channel ${peerState} -> ${peer.state}`,
        ];
      },
    );

    // 6. The PNE reaches the server through gw-1's relay, end to end.
    await step(
      6,
      "pne-1 reaches the CPNS Server through gw-1's relay with its own Digest (end to end), then inside a secure channel: gw-1 relays only ciphertext",
      "seed 5.x.2, 5.x.4; SEED-5.x.4-2, GATEWAY-RELAY, GATEWAY-RELAY-E2E",
      async () => {
        const relayed = drawn("PNE", pneSession.relayTransport());
        const viaRelay = new EntityAgent({ serverUrl: base, store: pne.store, fetch: relayed });
        const res = await viaRelay.fetchAsEntity("pne-1", "/cpns/v1/whoami");
        check(res.status === 200, `relayed whoami (got ${res.status})`);
        check(digestExchangeOf(res) !== undefined, "the server proved itself through the relay");
        const from = upstreamSeen.length;
        const channel = await ServerChannel.open({
          agent: viaRelay,
          store: pne.store,
          entityId: "pne-1",
          serverUrl: base,
          fetch: relayed,
        });
        const marker = "pne-1-secret-marker";
        const inside = await channel.fetch(`/cpns/v1/whoami?m=${marker}`);
        check(inside.status === 200, `whoami inside the relayed channel (got ${inside.status})`);
        await channel.close();
        const seen = Buffer.concat(upstreamSeen.slice(from));
        check(!seen.includes(Buffer.from(marker)), "the relay never saw the plaintext");
        return [
          "relayed whoami: 200 with the server's rspauth checked by pne-1, not by gw-1",
          `inside the relayed channel gw-1 carried ${seen.length} bytes, none of them the plaintext`,
        ];
      },
    );

    // 7. Rotation and revocation.
    await step(
      7,
      "alice rotates pne-1's EUKey (the old key is refused at once), then revokes gw-2 (it can never authenticate again)",
      "seed 5.x.3; SEED-5.x.3-1, SEED-5.x.3-2",
      async () => {
        const before = await pne.store.get("pne-1");
        const old = new MemoryKeyStore();
        if (before) await old.put({ ...before });
        await pne.agent.enroll({ ...ALICE, entityId: "pne-1", type: "PNE" });
        const oldAgent = new EntityAgent({ serverUrl: base, store: old, fetch: drawn("PNE", tls) });
        const oldRefused = await refusal(oldAgent.whoami("pne-1"));
        check(oldRefused !== "", "the old key is refused");
        const fresh = await pne.agent.fetchAsEntity("pne-1", "/cpns/v1/whoami");
        check(fresh.status === 200, "the new key works");
        const owner = agentDigestFetch({
          ...ALICE,
          username: ALICE.userId,
          requireRspauth: true,
          fetch: drawn("User", tls),
        });
        const revoked = await owner(`${base}/cpns/v1/entities/gw-2`, { method: "DELETE" });
        check(revoked.status === 200 || revoked.status === 204, `revoked (got ${revoked.status})`);
        const cut = await refusal(gw2.agent.whoami("gw-2"));
        check(cut !== "", "gw-2 is refused after revocation");
        return [
          `pne-1 key version 2; version 1 refused (${oldRefused}); gw-2 revoked, its key refused (${cut})`,
          await states(pne, gw2),
          "(a device whose authentication is refused falls back to enrolled: it still holds its key, the server no longer takes it)",
        ];
      },
    );

    // 8. Attacks.
    await step(
      8,
      "attacks refused: a replayed request, a wrong password until the budget runs out, an OTK delivered twice, a relay that rewrites an answer",
      "seed 5.x.1-5.x.2; DIGEST-REPLAY, LIMIT-PAIR, OTK-DELIVERY, GATEWAY-RELAY-E2E",
      async () => {
        check(captured !== undefined, "a whoami of pne-1 was captured");
        const replay = await drawn("PNE", tls)(captured as Request);
        check(replay.status === 401, `the replay is refused (got ${replay.status})`);

        const statuses: number[] = [];
        for (let i = 0; i < 12 && !statuses.includes(429); i++) {
          const guess = agentDigestFetch({
            username: BOB.userId,
            password: `wrong-${i}`,
            fetch: drawn("User", tls),
          });
          const res = await guess(`${base}/cpns/v1/entities`);
          statuses.push(res.status);
        }
        check(statuses[0] === 401, "a wrong password is 401");
        check(statuses.includes(429), "the failure budget runs out (429)");

        const twice = await refusal(pne.otks.fetch("pne-1", pneOtkId));
        check(twice !== "", "a second delivery of the same OTK is refused");

        tamper = true;
        const viaRelay = new EntityAgent({
          serverUrl: base,
          store: pne.store,
          fetch: drawn("PNE", pneSession.relayTransport()),
        });
        const rewritten = await refusal(viaRelay.whoami("pne-1"));
        tamper = false;
        check(rewritten !== "", "pne-1 refuses the rewritten answer");
        return [
          `replayed whoami: ${replay.status}; bob's wrong passwords: ${statuses.join(" ")}`,
          `second delivery of ${pneOtkId}: refused (${twice}); rewritten relay answer: refused by pne-1 (${rewritten})`,
        ];
      },
    );
    await pneSession.close();
    await gw2Session.close();
  } catch (err) {
    failed = err;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await stopServer(serverChild);
    rmSync(work, { recursive: true, force: true });
  }

  const participants = (Object.keys(LABEL) as Who[])
    .map((who) => `  participant ${who} as ${LABEL[who]}`)
    .join("\n");
  writeFileSync(out, `sequenceDiagram\n${participants}\n${diagram.join("\n")}\n`);
  console.log(`\nMermaid sequence diagram of ${diagram.length} lines: ${out}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed) {
    const why = failed instanceof Error ? failed.message : String(failed);
    console.error(`\nDEMO FAILED at step ${current.n} (${current.title}): ${why}`);
    process.exit(1);
  }
  console.log(`Every step happened as narrated (${seconds} s, the server's start included).`);
  process.exit(0);
}

await main();
