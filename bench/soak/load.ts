/**
 * Issue #9 "Reliability figures", second to fourth bullets: simulated
 * entities with mixed well-behaved traffic through the project's own agents
 * (enroll, authenticate, rotate, OTK deposit / fetch, peer sessions with a
 * real PN GW), latency per operation, and the checks afterwards: every
 * acknowledged enrollment authenticates with the key the client holds, and
 * no OTK was delivered twice. Also: many concurrent clients on one entity's
 * credentials, which must never see a spurious 401.
 *
 * Implements: SOAK-LOAD, SOAK-CONCURRENT
 */
import { AgentError, EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import { createUser, OWNER_IN_FLIGHT, strongPassword } from "./identities.ts";
import { Rng } from "./mutators.ts";

export interface SimEntity {
  entityId: string;
  userId: string;
  type: "PNE" | "PNGW";
  store: MemoryKeyStore;
  agent: EntityAgent;
  otks: OtkClient;
  busy: boolean;
  /** Set once an enrollment (or rotation) was acknowledged: the key the client then held. */
  acknowledged?: { eukey: string; keyVersion: number };
  /** A PN GW process offered this peer an OTK (see run.ts); used once. */
  gatewayOffer?: string;
}

/** Counts every answer of the well-behaved traffic on the wire, 5xx in particular. */
export class WireCounter {
  requests = 0;
  fiveXx = 0;
  /** 429 answers (the failure limiter); the well-behaved load must never meet one. */
  tooMany = 0;
  samples: string[] = [];
  /** `inner`: the transport under the counter (tests inject faults or hold requests there). */
  constructor(private readonly inner: FetchLike = (request) => fetch(request)) {}
  readonly fetch: FetchLike = async (request) => {
    const url = request.url;
    const res = await this.inner(request);
    this.requests++;
    if (res.status === 429) {
      this.tooMany++;
      if (this.samples.length < 20) this.samples.push(`429 ${request.method} ${url}`);
    }
    if (res.status >= 500) {
      this.fiveXx++;
      // The problem+json names a stable code; its detail never holds a secret.
      const problem = await res
        .clone()
        .text()
        .catch(() => "");
      if (this.samples.length < 20)
        this.samples.push(`${res.status} ${request.method} ${url} ${problem.slice(0, 300)}`);
    }
    return res;
  };
}

export interface World {
  serverUrl: string;
  users: Array<{ userId: string; password: string }>;
  entities: SimEntity[];
  wire: WireCounter;
}

/** Users and (not yet enrolled) entities: one PN GW for every four PNEs. */
export async function createWorld(input: {
  serverUrl: string;
  adminToken: string;
  entities: number;
  entitiesPerUser: number;
  prefix: string;
  wire?: WireCounter;
}): Promise<World> {
  const wire = input.wire ?? new WireCounter();
  const users: World["users"] = [];
  const entities: SimEntity[] = [];
  const userCount = Math.ceil(input.entities / input.entitiesPerUser);
  for (let u = 0; u < userCount; u++) {
    const user = { userId: `${input.prefix}-u${u}`, password: strongPassword() };
    await createUser(input.serverUrl, input.adminToken, user.userId, user.password);
    users.push(user);
  }
  for (let i = 0; i < input.entities; i++) {
    entities.push(
      simEntity(
        input.serverUrl,
        wire,
        `${input.prefix}-e${i}`,
        users[i % userCount]?.userId as string,
        // Within each user, one PN GW for every four PNEs.
        Math.floor(i / userCount) % 5 === 0 ? "PNGW" : "PNE",
      ),
    );
  }
  return { serverUrl: input.serverUrl, users, entities, wire };
}

export function simEntity(
  serverUrl: string,
  wire: WireCounter,
  entityId: string,
  userId: string,
  type: "PNE" | "PNGW",
): SimEntity {
  const store = new MemoryKeyStore();
  const agent = new EntityAgent({ serverUrl, store, fetch: wire.fetch });
  return {
    entityId,
    userId,
    type,
    store,
    agent,
    otks: new OtkClient({ agent, store }),
    busy: false,
  };
}

/**
 * At most `limit` operations at a time that authenticate as one CPNS User (an
 * enrollment or a rotation is Digest with the owner's password). The server
 * charges every Digest attempt to its (identity, address) budget BEFORE
 * verifying it (LIMIT-RESERVE: N concurrent guesses cost N), so more than the
 * free budget of one owner's genuine requests in flight at once from one
 * address are refused 429 like a burst of guesses: all the load's clients
 * share 127.0.0.1. A person enrolls devices a few at a time, not dozens at once.
 */
export class OwnerGate {
  readonly #inFlight = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();
  /** The most in flight for one owner at any moment (checked by test/soak/load-owner-gate.test.ts). */
  peak = 0;
  constructor(readonly limit: number) {}

  async run<T>(owner: string, work: () => Promise<T>): Promise<T> {
    while ((this.#inFlight.get(owner) ?? 0) >= this.limit) {
      await new Promise<void>((resolve) =>
        this.#waiting.set(owner, [...(this.#waiting.get(owner) ?? []), resolve]),
      );
    }
    const now = (this.#inFlight.get(owner) ?? 0) + 1;
    this.#inFlight.set(owner, now);
    this.peak = Math.max(this.peak, now);
    try {
      return await work();
    } finally {
      this.#inFlight.set(owner, (this.#inFlight.get(owner) ?? 1) - 1);
      this.#waiting.get(owner)?.shift()?.();
    }
  }
}

export interface OpStats {
  count: number;
  ok: number;
  latencies: number[];
  refusals: Record<string, number>;
}

/** One operation that failed other than by a 4xx refusal: what the report prints (no secrets). */
export interface OpFailure {
  op: string;
  entityId: string;
  /** HTTP status of the answer that failed it, when there was one. */
  status?: number;
  /** Stable error code, or the error's name and its cause's code (e.g. UND_ERR_SOCKET). */
  code: string;
  message: string;
  /** Milliseconds since the load started. */
  atMs: number;
}

export interface LoadResult {
  ops: Record<string, OpStats>;
  /** Every failure other than a 4xx refusal, in order (the first 50). */
  failures: OpFailure[];
  /** OTK id -> 2xx deliveries the clients saw. */
  deliveries: Map<string, { peer: SimEntity; count: number }>;
  deposited: number;
  peerSessions: number;
  errorsAfterStop: number;
}

/** A 4xx with a stable code is the protocol speaking (e.g. ERR_OTK_GONE after the issuer rotated). */
export const isRefusal = (code: string): boolean => /^4\d\d /.test(code);

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function codeOf(err: unknown): string {
  if (err instanceof AgentError) return `${err.status} ${err.code}`;
  if (err instanceof CpnsError) return err.code;
  return err instanceof Error ? err.message.slice(0, 80) : String(err);
}

/** The chain of causes as `name: message (code)`, bounded; keys and passwords never enter error messages. */
export function describeError(err: unknown): { status?: number; code: string; message: string } {
  const parts: string[] = [];
  let code = "";
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    if (current instanceof Error) {
      const own = (current as { code?: unknown }).code;
      if (!code && typeof own === "string") code = own;
      parts.push(
        `${current.name}: ${current.message.slice(0, 160)}${typeof own === "string" ? ` (${own})` : ""}`,
      );
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(String(current).slice(0, 160));
      current = undefined;
    }
  }
  const status = err instanceof AgentError || err instanceof CpnsError ? err.status : undefined;
  return {
    status,
    code: code || (err instanceof Error ? err.name : "unknown"),
    message: parts.join(" <- "),
  };
}

/**
 * Runs `concurrency` virtual clients for `durationMs`. `kinds` limits the
 * operations (the crash run leaves rotation out: an unacknowledged rotation
 * cut by the kill may have changed the key the client still holds).
 */
export async function runLoad(
  world: World,
  options: {
    durationMs: number;
    concurrency: number;
    seed: number;
    rotate?: boolean;
    gatewayUrl?: string;
    stop?: { stopped: boolean };
    /** Bounds each owner's enrollments in flight (default: half the limiter's free budget). */
    ownerGate?: OwnerGate;
  },
): Promise<LoadResult> {
  const ownerGate = options.ownerGate ?? new OwnerGate(OWNER_IN_FLIGHT);
  const rng = new Rng(options.seed);
  const result: LoadResult = {
    ops: {},
    failures: [],
    deliveries: new Map(),
    deposited: 0,
    peerSessions: 0,
    errorsAfterStop: 0,
  };
  const loadStarted = Date.now();
  const deadline = loadStarted + options.durationMs;
  const stop = options.stop ?? { stopped: false };
  const byUser = new Map<string, SimEntity[]>();
  for (const e of world.entities) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  const password = new Map(world.users.map((u) => [u.userId, u.password]));

  const record = async (op: string, entityId: string, run: () => Promise<void>) => {
    const stats = result.ops[op] ?? { count: 0, ok: 0, latencies: [], refusals: {} };
    result.ops[op] = stats;
    const started = performance.now();
    try {
      await run();
      stats.ok++;
      stats.latencies.push(performance.now() - started);
    } catch (err) {
      if (stop.stopped) {
        result.errorsAfterStop++;
        return;
      }
      const code = codeOf(err);
      stats.refusals[code] = (stats.refusals[code] ?? 0) + 1;
      if (!isRefusal(code) && result.failures.length < 50) {
        result.failures.push({
          op,
          entityId,
          ...describeError(err),
          atMs: Date.now() - loadStarted,
        });
      }
    } finally {
      stats.count++;
    }
  };

  const enroll = async (e: SimEntity) => {
    const record = await ownerGate.run(e.userId, () =>
      e.agent.enroll({
        userId: e.userId,
        password: password.get(e.userId) as string,
        entityId: e.entityId,
        type: e.type,
      }),
    );
    e.acknowledged = { eukey: record.eukey, keyVersion: record.keyVersion };
  };

  const step = async (e: SimEntity) => {
    if (!e.acknowledged) return record("enroll", e.entityId, () => enroll(e));
    if (e.gatewayOffer && options.gatewayUrl) {
      const gatewayId = e.gatewayOffer;
      e.gatewayOffer = undefined;
      return record("peer session", e.entityId, async () => {
        const waiting = (await e.otks.inbox(e.entityId)).filter((o) => o.issuerId === gatewayId);
        const offer = waiting[waiting.length - 1];
        if (!offer) throw new Error("no OTK from the PN GW");
        const received = await e.otks.fetch(e.entityId, offer.otkId);
        result.deliveries.set(offer.otkId, { peer: e, count: 1 });
        const session = await PeerSession.open({
          entityId: e.entityId,
          received,
          gatewayUrl: options.gatewayUrl,
          fetch: world.wire.fetch,
        });
        await session.send("soak");
        const relayed = new EntityAgent({
          serverUrl: world.serverUrl,
          store: e.store,
          fetch: session.relayTransport(),
        });
        await relayed.whoami(e.entityId);
        await session.close();
        result.peerSessions++;
      });
    }
    const roll = rng.int(100);
    if (roll < 45)
      return record(
        "authenticate",
        e.entityId,
        async () => void (await e.agent.whoami(e.entityId)),
      );
    if (roll < 55 && options.rotate !== false) return record("rotate", e.entityId, () => enroll(e));
    if (e.type === "PNGW" && roll < 80) {
      const peers = (byUser.get(e.userId) ?? []).filter((p) => p.type === "PNE" && p.acknowledged);
      if (peers.length === 0) return;
      const peer = rng.pick(peers);
      return record("otk deposit", e.entityId, async () => {
        await e.otks.deposit(e.entityId, { peerId: peer.entityId, lifetimeSeconds: 280 });
        result.deposited++;
      });
    }
    if (e.type === "PNE" && roll < 80) {
      return record("otk fetch", e.entityId, async () => {
        const waiting = await e.otks.inbox(e.entityId);
        const first = waiting.find((o) => !result.deliveries.has(o.otkId)) ?? waiting[0];
        if (!first) return;
        const received = await e.otks.fetch(e.entityId, first.otkId);
        received.otk.fill(0);
        const seen = result.deliveries.get(first.otkId);
        if (seen) seen.count++;
        else result.deliveries.set(first.otkId, { peer: e, count: 1 });
      });
    }
    return record("authenticate", e.entityId, async () => void (await e.agent.whoami(e.entityId)));
  };

  // First turns before any random pick: every entity's enrollment, then each
  // pending PN GW offer (its peer session). They run even past the deadline, so
  // a slow machine shortens the random traffic, never what every run must cover.
  const firstTurnDue = (e: SimEntity) =>
    !e.acknowledged || (e.gatewayOffer !== undefined && options.gatewayUrl !== undefined);
  const firstTurns = [
    ...world.entities.filter((e) => !e.acknowledged),
    ...world.entities.filter((e) => e.acknowledged && firstTurnDue(e)),
  ];
  const nextFirstTurn = (): SimEntity | undefined => {
    for (let i = 0; i < firstTurns.length; i++) {
      const e = firstTurns[i] as SimEntity;
      if (!firstTurnDue(e)) {
        firstTurns.splice(i--, 1);
      } else if (!e.busy) {
        firstTurns.splice(i, 1);
        return e;
      }
    }
    return undefined;
  };
  const client = async () => {
    while (!stop.stopped && (Date.now() < deadline || firstTurns.some(firstTurnDue))) {
      let e: SimEntity | undefined = nextFirstTurn();
      // Past the deadline only first turns are left to run.
      for (let tries = 0; tries < 8 && !e && Date.now() < deadline; tries++) {
        const candidate = rng.pick(world.entities);
        if (!candidate.busy) e = candidate;
      }
      if (!e) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      e.busy = true;
      try {
        await step(e);
      } finally {
        e.busy = false;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  return result;
}

/** After the load: each acknowledged enrollment must authenticate with the key the client holds. */
export async function checkEnrollments(
  serverUrl: string,
  entities: SimEntity[],
  concurrency = 16,
): Promise<{ checked: number; failed: number; samples: string[] }> {
  const out = { checked: 0, failed: 0, samples: [] as string[] };
  const queue = entities.filter((e) => e.acknowledged);
  const worker = async () => {
    for (let e = queue.pop(); e; e = queue.pop()) {
      out.checked++;
      const { eukey } = e.acknowledged as { eukey: string };
      const client = createDigestFetch({
        username: e.entityId,
        password: eukey,
        requireRspauth: true,
      });
      try {
        const res = await client(`${serverUrl}/cpns/v1/whoami`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${res.status} ${text.slice(0, 100)}`);
      } catch (err) {
        out.failed++;
        if (out.samples.length < 10) out.samples.push(`${e.entityId}: ${String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** No OTK twice: client-side counts, then a second delivery of each one delivered. */
export async function checkOtkDeliveries(
  result: LoadResult,
): Promise<{ otks: number; twiceByClients: number; secondDeliveryAccepted: number }> {
  let twiceByClients = 0;
  let secondDeliveryAccepted = 0;
  const queue = [...result.deliveries];
  const worker = async () => {
    for (let next = queue.pop(); next; next = queue.pop()) {
      const [otkId, { peer, count }] = next;
      if (count > 1) twiceByClients++;
      try {
        const again = await peer.otks.fetch(peer.entityId, otkId);
        again.otk.fill(0);
        secondDeliveryAccepted++;
      } catch {
        // refused: as it must be
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { otks: result.deliveries.size, twiceByClients, secondDeliveryAccepted };
}

/**
 * `clients` independent clients (each its own nonce and nc) on one entity's
 * EUKey, `rounds` requests each, all at once; and one shared client with
 * `clients` requests in flight per round (one nonce, nc values racing).
 * A spurious 401 is a final 401 to a request with the right key.
 */
export async function concurrentClients(
  serverUrl: string,
  entity: { entityId: string; eukey: string },
  clients: number,
  rounds: number,
): Promise<{
  requests: number;
  final401: number;
  otherFailures: number;
  /** What those failures were: "status 429", "TypeError: fetch failed (other side closed)", ... with counts. */
  otherFailureKinds: Record<string, number>;
  shared401: number;
  wireRetries401: number;
}> {
  let requests = 0;
  let final401 = 0;
  let otherFailures = 0;
  const otherFailureKinds: Record<string, number> = {};
  const failed = (kind: string) => {
    otherFailures++;
    otherFailureKinds[kind] = (otherFailureKinds[kind] ?? 0) + 1;
  };
  let wireRetries401 = 0;
  const counting: FetchLike = async (request) => {
    const res = await fetch(request);
    if (res.status === 401 && request.headers.has("authorization")) wireRetries401++;
    return res;
  };
  const one = async (client: ReturnType<typeof createDigestFetch>) => {
    requests++;
    try {
      const res = await client(`${serverUrl}/cpns/v1/whoami`);
      await res.arrayBuffer();
      if (res.status === 401) final401++;
      else if (res.status !== 200) failed(`status ${res.status}`);
      return res.status;
    } catch (error) {
      const cause = (error as { cause?: { message?: string; code?: string } }).cause;
      failed(
        `${(error as Error).name}: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ""}`,
      );
      return 0;
    }
  };
  const make = () =>
    createDigestFetch({
      username: entity.entityId,
      password: entity.eukey,
      requireRspauth: true,
      fetch: counting,
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = make();
      for (let r = 0; r < rounds; r++) await one(client);
    }),
  );
  const shared = make();
  let shared401 = 0;
  for (let r = 0; r < rounds; r++) {
    const statuses = await Promise.all(Array.from({ length: clients }, () => one(shared)));
    shared401 += statuses.filter((s) => s === 401).length;
  }
  return { requests, final401, otherFailures, otherFailureKinds, shared401, wireRetries401 };
}
