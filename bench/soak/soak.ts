/**
 * Issue #9 "Reliability figures": the whole soak in one function, sized by a
 * profile ("full" for `npm run soak`, "ci" for test/soak/soak.test.ts): a real
 * CPNS Server process and a real PN GW process (`cpns gateway serve`) on core
 * 0, this process as the load generator on core 1, loopback only, bounded in
 * count and time. Returns every figure beside its target.
 *
 * Implements: SOAK-FUZZ, SOAK-LOAD, SOAK-CONCURRENT, SOAK-CRASH, SOAK-CRASH-REPLAY, SOAK-LEDGER
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient, type ReceivedOtk } from "../../src/agent/otk-client.ts";
import { installHashBackend } from "../../src/crypto/hash.ts";
import { nodeHashes } from "../../src/runtime/node-hashes.ts";
import { NodeKeyStore } from "../../src/runtime/node-keystore.ts";
import { type CrashResult, crashRun } from "./crash.ts";
import { FuzzContext, fuzzGatewayPeer, fuzzServerEntity, fuzzServerUser } from "./fuzz.ts";
import { createUser, strongPassword } from "./identities.ts";
import { ledgerFlood } from "./ledger.ts";
import {
  checkEnrollments,
  checkOtkDeliveries,
  concurrentClients,
  createWorld,
  isRefusal,
  type OpFailure,
  percentile,
  runLoad,
} from "./load.ts";
import { pinSelf, setPinning, startGatewayProcess, startServerProcess } from "./processes.ts";
import { Wire } from "./wire.ts";

export interface SoakProfile {
  name: "full" | "ci";
  fuzzBudget: number;
  fuzzMaxMs: number;
  fuzzEntities: number;
  fuzzUsers: number;
  fuzzGatewayPeers: number;
  loadEntities: number;
  loadMs: number;
  loadConcurrency: number;
  loadGatewayPeers: number;
  sameKeyClients: number;
  sameKeyRounds: number;
  crashEntities: number;
  crashConcurrency: number;
  crashAfterMs: number;
  ledgerSeconds: number;
  ledgerRate: number;
  seed: number;
  /** Only the setup and the fuzz phase (`npm run soak -- --fuzz-only`): no load, crash or ledger. */
  fuzzOnly?: boolean;
}

export const PROFILES: Record<"full" | "ci", SoakProfile> = {
  full: {
    name: "full",
    fuzzBudget: 1_000_000,
    fuzzMaxMs: 270_000,
    fuzzEntities: 48,
    fuzzUsers: 8,
    fuzzGatewayPeers: 16,
    loadEntities: 1000,
    loadMs: 60_000,
    loadConcurrency: 64,
    loadGatewayPeers: 30,
    sameKeyClients: 100,
    sameKeyRounds: 10,
    crashEntities: 300,
    crashConcurrency: 32,
    crashAfterMs: 8_000,
    ledgerSeconds: 1_800,
    ledgerRate: 1_000,
    seed: 0x5eed,
  },
  ci: {
    name: "ci",
    fuzzBudget: 10_000,
    // Back in the test command: at most ~90 s on a loaded 2-core machine.
    fuzzMaxMs: 15_000,
    fuzzEntities: 12,
    fuzzUsers: 2,
    fuzzGatewayPeers: 4,
    loadEntities: 40,
    loadMs: 6_000,
    loadConcurrency: 12,
    loadGatewayPeers: 3,
    sameKeyClients: 100,
    sameKeyRounds: 2,
    crashEntities: 30,
    crashConcurrency: 8,
    crashAfterMs: 2_000,
    ledgerSeconds: 900,
    ledgerRate: 100,
    seed: 0x5eed,
  },
};

export interface Figure {
  id: string;
  what: string;
  value: number | string;
  target: string;
  ok: boolean;
}

export interface SoakReport {
  profile: SoakProfile;
  figures: Figure[];
  details: Record<string, unknown>;
  wallMs: number;
}

const mib = (bytes: number | undefined) =>
  bytes === undefined ? Number.NaN : Math.round(bytes / 1048576);

export async function runSoak(
  profile: SoakProfile,
  log: (line: string) => void = () => {},
): Promise<SoakReport> {
  installHashBackend(nodeHashes);
  const started = Date.now();
  setPinning(profile.name === "full");
  pinSelf(1);
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const add = (id: string, what: string, value: number | string, target: string, ok: boolean) =>
    figures.push({ id, what, value, target, ok });
  const zero = (id: string, what: string, value: number) => add(id, what, value, "0", value === 0);

  const root = mkdtempSync(join(tmpdir(), "cpns-soak-"));
  const server = await startServerProcess(join(root, "server"));
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
  try {
    log(`server ${server.url} (pid ${server.proc.pid})`);
    // ------------------------------------------------------------ the world and the PN GW
    const world = await createWorld({
      serverUrl: server.url,
      adminToken: server.adminToken,
      entities: profile.loadEntities,
      entitiesPerUser: 50,
      prefix: "ld",
    });
    const owner = world.users[0] as { userId: string; password: string };
    const gwStore = new NodeKeyStore(join(root, "gateway-keys"));
    const gwAgent = new EntityAgent({ serverUrl: server.url, store: gwStore });
    await gwAgent.enroll({ ...owner, entityId: "soak-gw", type: "PNGW" });
    // Peers of the PN GW: some load entities (the owner's PNEs) and the fuzzer's peers.
    const loadPeers = world.entities
      .filter((e) => e.userId === owner.userId && e.type === "PNE")
      .slice(0, profile.loadGatewayPeers);
    for (const peer of loadPeers) {
      const record = await peer.agent.enroll({ ...owner, entityId: peer.entityId, type: "PNE" });
      peer.acknowledged = { eukey: record.eukey, keyVersion: record.keyVersion };
      peer.gatewayOffer = "soak-gw";
    }
    const fuzzPeers: Array<{
      entityId: string;
      eukey: string;
      otks: OtkClient;
      received?: ReceivedOtk;
    }> = [];
    for (let i = 0; i < profile.fuzzGatewayPeers; i++) {
      const store = new MemoryKeyStore();
      const agent = new EntityAgent({ serverUrl: server.url, store });
      const entityId = `fz-peer-${i}`;
      const record = await agent.enroll({ ...owner, entityId, type: "PNE" });
      fuzzPeers.push({ entityId, eukey: record.eukey, otks: new OtkClient({ agent, store }) });
    }
    gateway = await startGatewayProcess({
      serverUrl: server.url,
      keystoreDir: join(root, "gateway-keys"),
      gatewayId: "soak-gw",
      offers: [...loadPeers.map((p) => p.entityId), ...fuzzPeers.map((p) => p.entityId)],
    });
    log(`PN GW ${gateway.url} (pid ${gateway.proc.pid})`);
    for (const peer of fuzzPeers) {
      const offer = (await peer.otks.inbox(peer.entityId)).find((o) => o.issuerId === "soak-gw");
      if (offer) peer.received = await peer.otks.fetch(peer.entityId, offer.otkId);
    }

    // The fuzzer's own identities, made before the load so that its PN GW peers
    // open their sessions well inside the OTK lifetime.
    const fuzzEntities: Array<{ entityId: string; eukey: string }> = [];
    const fuzzUsers: Array<{ userId: string; password: string }> = [];
    for (let u = 0; u < profile.fuzzUsers; u++) {
      const user = { userId: `fz-u${u}`, password: strongPassword() };
      await createUser(server.url, server.adminToken, user.userId, user.password);
      fuzzUsers.push(user);
    }
    const fuzzOwner = fuzzUsers[0] ?? owner;
    for (let i = 0; i < profile.fuzzEntities; i++) {
      const store = new MemoryKeyStore();
      const agent = new EntityAgent({ serverUrl: server.url, store });
      const entityId = `fz-e${i}`;
      const record = await agent.enroll({
        ...fuzzOwner,
        entityId,
        type: i % 4 === 0 ? "PNGW" : "PNE",
      });
      fuzzEntities.push({ entityId, eukey: record.eukey });
    }
    if (!profile.fuzzOnly) {
      // ------------------------------------------------------------ load
      const rssStart = server.proc.rssBytes();
      log(
        `load: ${profile.loadEntities} entities, ${profile.loadMs / 1000} s, ${profile.loadConcurrency} clients`,
      );
      const load = await runLoad(world, {
        durationMs: profile.loadMs,
        concurrency: profile.loadConcurrency,
        seed: profile.seed,
        gatewayUrl: gateway.url,
      });
      const rssEnd = server.proc.rssBytes();
      const enrollments = await checkEnrollments(server.url, world.entities);
      const otks = await checkOtkDeliveries(load);
      const opRows: Record<string, unknown> = {};
      let loadFailures = 0;
      for (const [op, s] of Object.entries(load.ops)) {
        const sorted = [...s.latencies].sort((a, b) => a - b);
        opRows[op] = {
          count: s.count,
          ok: s.ok,
          p50ms: Math.round(percentile(sorted, 50) * 10) / 10,
          p99ms: Math.round(percentile(sorted, 99) * 10) / 10,
          refusals: s.refusals,
        };
        // A 4xx with a stable code is the protocol speaking (e.g. ERR_OTK_GONE after the
        // issuer rotated); anything else (5xx, no answer, an unproven server) is a failure.
        for (const [code, n] of Object.entries(s.refusals)) if (!isRefusal(code)) loadFailures += n;
      }
      details.load = {
        ops: opRows,
        deposited: load.deposited,
        peerSessions: load.peerSessions,
        wireRequests: world.wire.requests,
        fiveXxSamples: world.wire.samples,
        failures: load.failures,
      };
      details.enrollmentSamples = enrollments.samples;
      const acked = world.entities.filter((e) => e.acknowledged).length;
      zero("SOAK-LOAD", `load: 5xx among ${world.wire.requests} requests`, world.wire.fiveXx);
      zero(
        "SOAK-LOAD",
        "load: 429 answers (failure limiter) to well-behaved clients",
        world.wire.tooMany,
      );
      add(
        "SOAK-LOAD",
        "load: operations failed other than by a 4xx refusal",
        loadFailures,
        "0",
        loadFailures === 0,
      );
      add(
        "SOAK-LOAD",
        "load: entities enrolled and acknowledged",
        `${acked}/${world.entities.length}`,
        `= ${world.entities.length}`,
        acked === world.entities.length,
      );
      zero(
        "SOAK-LOAD",
        `load: acknowledged enrollments that do not authenticate (of ${enrollments.checked})`,
        enrollments.failed,
      );
      zero(
        "SOAK-LOAD",
        `load: OTKs delivered twice, client count (of ${otks.otks} delivered)`,
        otks.twiceByClients,
      );
      zero("SOAK-LOAD", "load: second delivery attempts accepted", otks.secondDeliveryAccepted);
      add(
        "SOAK-LOAD",
        "load: peer sessions through the PN GW (open, message, relay, close)",
        `${load.peerSessions}/${loadPeers.length}`,
        `= ${loadPeers.length}`,
        load.peerSessions === loadPeers.length,
      );
      for (const [op, row] of Object.entries(opRows) as Array<
        [string, { count: number; p50ms: number; p99ms: number }]
      >) {
        add(
          "SOAK-LOAD",
          `load: ${op} x${row.count}, p50 / p99 ms`,
          `${row.p50ms} / ${row.p99ms}`,
          "(measured)",
          true,
        );
      }
      add(
        "SOAK-LOAD",
        "load: server RSS at start / end, MiB",
        `${mib(rssStart)} / ${mib(rssEnd)}`,
        "(measured)",
        true,
      );
    }
    // ------------------------------------------------------------ fuzz
    const wire = new Wire();
    const ctx = new FuzzContext(wire, Date.now() + profile.fuzzMaxMs, profile.fuzzBudget);
    log(`fuzz: up to ${profile.fuzzBudget} requests or ${profile.fuzzMaxMs / 1000} s`);
    const fuzzStarted = Date.now();
    const cpuAtStart = {
      server: server.proc.cpuSeconds() ?? Number.NaN,
      gateway: gateway.proc.cpuSeconds() ?? Number.NaN,
      fuzzer: process.cpuUsage(),
    };
    const workers: Array<Promise<void>> = [];
    let seed = profile.seed;
    for (const e of fuzzEntities) workers.push(fuzzServerEntity(ctx, server.url, e, ++seed));
    for (const u of fuzzUsers.slice(1)) workers.push(fuzzServerUser(ctx, server.url, u, ++seed));
    let gatewayWorkers = 0;
    for (const p of fuzzPeers) {
      if (!p.received) continue;
      gatewayWorkers++;
      const received = p.received;
      workers.push(
        fuzzGatewayPeer(
          ctx,
          server.url,
          { entityId: p.entityId, eukey: p.eukey, received },
          ++seed,
        ).catch((err) => {
          details.gatewayFuzzError = String(err);
        }),
      );
    }
    const progress = setInterval(() => {
      const s = ctx.stats;
      log(
        `fuzz: ${s.mutated + s.generated + s.bodies} sent, 5xx ${s.fiveXx}, resets ${s.resets}, forgeries ${s.forgeries}`,
      );
    }, 15_000);
    await Promise.all(workers);
    clearInterval(progress);
    wire.close();
    const fuzzMs = Date.now() - fuzzStarted;
    const fuzzerCpu = process.cpuUsage(cpuAtStart.fuzzer);
    const cpu = {
      server: (server.proc.cpuSeconds() ?? Number.NaN) - cpuAtStart.server,
      gateway: (gateway.proc.cpuSeconds() ?? Number.NaN) - cpuAtStart.gateway,
      fuzzer: (fuzzerCpu.user + fuzzerCpu.system) / 1e6,
    };
    const s = ctx.stats;
    const total = s.mutated + s.generated + s.bodies;
    const serverAlive = !server.proc.exited();
    const gatewayAlive = !gateway.proc.exited();
    details.fuzz = {
      ...s,
      ms: fuzzMs,
      perSecond: Math.round(total / (fuzzMs / 1000)),
      cpuSeconds: cpu,
      loadAverage: loadavg(),
      gatewayWorkers,
    };
    add(
      "SOAK-FUZZ",
      `fuzz: requests with mutated (${s.mutated}) or generated (${s.generated}) credentials, or hostile bodies (${s.bodies})`,
      total,
      `>= ${profile.fuzzBudget}`,
      total >= profile.fuzzBudget,
    );
    add(
      "SOAK-FUZZ",
      "fuzz: crashes (server or PN GW process died)",
      (serverAlive ? 0 : 1) + (gatewayAlive ? 0 : 1),
      "0",
      serverAlive && gatewayAlive,
    );
    zero(
      "SOAK-FUZZ",
      "fuzz: valid HTTP requests whose connection closed without an answer",
      s.resets,
    );
    add(
      "SOAK-FUZZ",
      "fuzz: invalid HTTP (control chars, non-Latin-1) closed by Node's parser",
      s.closedByParser,
      "(measured)",
      true,
    );
    zero("SOAK-FUZZ", "fuzz: 5xx answers", s.fiveXx);
    zero("SOAK-FUZZ", "fuzz: accepted forgeries", s.forgeries);
    add(
      "SOAK-FUZZ",
      "fuzz: accepted equivalent variants (not forgeries, see the oracle)",
      s.equivalentAccepted,
      "(measured)",
      true,
    );
    zero("SOAK-FUZZ", `fuzz: genuine requests refused (of ${s.genuine})`, s.genuineRefused);
    add(
      "SOAK-FUZZ",
      "fuzz: a user's genuine requests answered 429 by the failure limiter (reported)",
      s.genuineLimited,
      "any",
      true,
    );
    add("SOAK-FUZZ", "fuzz: 429 answers (failure limiter)", s.rateLimited, "(measured)", true);
    add(
      "SOAK-FUZZ",
      "fuzz: PN GW peer sessions over before the fuzz ended (their workers stopped)",
      s.peerSessionsOver.length,
      "(measured)",
      true,
    );
    add(
      "SOAK-FUZZ",
      "fuzz: PN GW peers fuzzing Proxy-Authorization and session Digest",
      gatewayWorkers,
      `= ${profile.fuzzGatewayPeers}`,
      gatewayWorkers === profile.fuzzGatewayPeers && !details.gatewayFuzzError,
    );
    // On a shared machine the rate says more about the neighbours than the code;
    // requests per CPU-second of each process say what an idle core would do.
    const wireRequests = Object.values(s.byStatus).reduce((a, b) => a + b, 0) + s.closedByParser;
    add(
      "SOAK-FUZZ",
      `fuzz: ${wireRequests} requests on the wire in ${Math.round(fuzzMs / 1000)} s; CPU s server / PN GW / fuzzer`,
      `${cpu.server.toFixed(1)} / ${cpu.gateway.toFixed(1)} / ${cpu.fuzzer.toFixed(1)}`,
      "(measured)",
      true,
    );
    add(
      "SOAK-FUZZ",
      "fuzz: wire requests per second; per CPU-second of the server; of the fuzzer",
      `${Math.round(wireRequests / (fuzzMs / 1000))}; ${Math.round(wireRequests / cpu.server)}; ${Math.round(wireRequests / cpu.fuzzer)}`,
      "(measured)",
      true,
    );
    add(
      "SOAK-FUZZ",
      "fuzz: server RSS after the fuzz, MiB",
      mib(server.proc.rssBytes()),
      "(measured)",
      true,
    );
    if (!profile.fuzzOnly) {
      // ------------------------------------------------------------ 100 clients, one key
      const sameKey = world.entities.find((e) => e.acknowledged && e.type === "PNE");
      if (sameKey?.acknowledged) {
        const result = await concurrentClients(
          server.url,
          { entityId: sameKey.entityId, eukey: sameKey.acknowledged.eukey },
          profile.sameKeyClients,
          profile.sameKeyRounds,
        );
        details.sameKey = result;
        zero(
          "SOAK-CONCURRENT",
          `${profile.sameKeyClients} clients on one EUKey: spurious 401 (of ${result.requests})`,
          result.final401,
        );
        const kinds = Object.entries(result.otherFailureKinds)
          .map(([kind, count]) => `${count} x ${kind}`)
          .join("; ");
        zero(
          "SOAK-CONCURRENT",
          `same: other failures${kinds ? ` (${kinds.slice(0, 200)})` : ""}`,
          result.otherFailures,
        );
        add(
          "SOAK-CONCURRENT",
          "same, one shared client: 401 answers retried on the wire",
          result.wireRetries401,
          "(measured)",
          true,
        );
      }
    }
  } finally {
    await gateway?.proc.stop();
    await server.proc.stop();
  }

  if (profile.fuzzOnly) {
    rmSync(root, { recursive: true, force: true });
    return { profile, figures, details, wallMs: Date.now() - started };
  }
  // ------------------------------------------------------------ crash
  log(`crash: ${profile.crashEntities} entities, SIGKILL after ${profile.crashAfterMs / 1000} s`);
  const crash: CrashResult = await crashRun({
    dataDir: join(root, "crash"),
    entities: profile.crashEntities,
    concurrency: profile.crashConcurrency,
    killAfterMs: profile.crashAfterMs,
    seed: profile.seed + 7,
  });
  details.crash = crash;
  add(
    "SOAK-CRASH",
    "crash: acknowledged enrollments before SIGKILL / requests cut by it",
    `${crash.acknowledgedBeforeKill} / ${crash.requestsCutByKill}`,
    "(measured)",
    crash.acknowledgedBeforeKill > 0,
  );
  zero(
    "SOAK-CRASH",
    `crash: acknowledged enrollments that no longer authenticate (of ${crash.enrollmentsChecked})`,
    crash.enrollmentsFailed,
  );
  zero(
    "SOAK-CRASH",
    `crash: store files that do not validate (of ${crash.storeFiles})`,
    crash.storeInvalid,
  );
  add(
    "SOAK-CRASH",
    "crash: replay of an accepted request, before the kill: status",
    crash.replayBeforeKillStatus,
    "401",
    crash.replayBeforeKillStatus === 401,
  );
  add(
    "SOAK-CRASH",
    "crash: the same replay after the restart: status",
    crash.replayAfterRestartStatus,
    "401",
    crash.replayAfterRestartStatus === 401,
  );

  // ------------------------------------------------------------ ledger
  const ledger = await ledgerFlood({
    simulatedSeconds: profile.ledgerSeconds,
    noncesPerSecond: profile.ledgerRate,
    ncPerNonce: 3,
  });
  details.ledger = ledger;
  add(
    "SOAK-LEDGER",
    `ledger: largest size over ${ledger.simulatedSeconds} simulated s, ${ledger.accepts} accepted`,
    ledger.maxSize,
    `<= ${ledger.bound}`,
    ledger.maxSize <= ledger.bound,
  );
  add(
    "SOAK-LEDGER",
    "ledger: size after a quiet nonce lifetime",
    ledger.sizeAfterQuiet,
    "<= 1",
    ledger.sizeAfterQuiet <= 1,
  );
  zero("SOAK-LEDGER", "ledger: replays accepted", ledger.replaysAccepted);

  rmSync(root, { recursive: true, force: true });
  return { profile, figures, details, wallMs: Date.now() - started };
}

export function formatTable(report: SoakReport): string {
  const rows = report.figures.map((f) => [
    f.ok ? "ok" : "MISSED",
    f.id,
    f.what,
    String(f.value),
    f.target,
  ]);
  const head = ["", "id", "figure", "value", "target"];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  const load = report.details.load as
    | { failures?: OpFailure[]; fiveXxSamples?: string[] }
    | undefined;
  const failureLines = [
    ...(load?.failures ?? []).map(
      (f) =>
        `  load failure: ${f.op} of ${f.entityId} at ${f.atMs} ms: status ${f.status ?? "none"}, ${f.code}: ${f.message}`,
    ),
    ...(load?.fiveXxSamples ?? []).map((line) => `  load 5xx / 429 on the wire: ${line}`),
  ];
  return [line(head), ...rows.map(line), ...failureLines].join("\n");
}
