/**
 * Issue #9 "Reliability figures", first bullet: mutated and generated
 * Authorization / Proxy-Authorization headers and JSON bodies at the HTTP
 * level against the running CPNS Server and PN GW. The fuzzer is a man in the
 * middle: the project's own client (createDigestFetch, PeerSession) computes
 * a genuine request, and the transport under it (Mitm) damages that request
 * before it reaches the wire, so the genuine header is never sent as such.
 * Each answer is classified: reset (no answer), 5xx, accepted forgery (see
 * oracle.ts), accepted equivalent, refused. Bodies are also fuzzed under
 * genuine credentials (qop=auth-int covers them), so they reach the handlers.
 *
 * Implements: SOAK-FUZZ
 */
import type { ReceivedOtk } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { FAILURES_PER_SUCCESS, REQUESTS_PER_ADDRESS, sourceAddress } from "./identities.ts";
import {
  generateCredentials,
  generateJsonText,
  type MutableRequest,
  mutateRequest,
  Rng,
} from "./mutators.ts";
import { accepted, isForgery, type SentShape } from "./oracle.ts";
import type { Wire, WireResult } from "./wire.ts";

export interface FuzzStats {
  /** Requests whose credentials header was mutated from a genuine one. */
  mutated: number;
  /** Requests with credentials made from nothing. */
  generated: number;
  /** Hostile JSON bodies sent under genuine credentials. */
  bodies: number;
  /** Genuine requests (keep the limiter clear; each must succeed). */
  genuine: number;
  genuineRefused: number;
  /**
   * Genuine requests of a password principal answered 429: the failure limiter
   * (issue #9 items 3-4) stops a user whose damaged answers come from addresses
   * that never proved the password, whatever the next answer is. Reported, not
   * a failure; an entity (key-based) is never limited, so its 429 is a refusal.
   */
  genuineLimited: number;
  fiveXx: number;
  resets: number;
  forgeries: number;
  equivalentAccepted: number;
  rateLimited: number;
  /** Requests that were not valid HTTP, closed by Node's parser without an answer. */
  closedByParser: number;
  /**
   * PN GW peer sessions that ended before the fuzz did, with why and when: its
   * worker stops then (one OTK per peer; the PN GW's sessions last 900 s).
   */
  peerSessionsOver: string[];
  byStatus: Record<string, number>;
  byMutation: Record<string, number>;
  samples: { fiveXx: string[]; resets: string[]; forgeries: string[]; genuineRefused: string[] };
}

export function emptyFuzzStats(): FuzzStats {
  return {
    mutated: 0,
    generated: 0,
    bodies: 0,
    genuine: 0,
    genuineRefused: 0,
    genuineLimited: 0,
    fiveXx: 0,
    resets: 0,
    forgeries: 0,
    equivalentAccepted: 0,
    rateLimited: 0,
    closedByParser: 0,
    peerSessionsOver: [],
    byStatus: {},
    byMutation: {},
    samples: { fiveXx: [], resets: [], forgeries: [], genuineRefused: [] },
  };
}

function sample(list: string[], text: string): void {
  if (list.length < 20) list.push(text.slice(0, 600));
}

const NO_BODY = new Set([101, 204, 205, 304]);

/** Shared by every worker: the wire, the stats, the source-address counter, recent nonces. */
export class FuzzContext {
  readonly stats = emptyFuzzStats();
  readonly nonces: string[] = [];
  #sent = 0;
  constructor(
    readonly wire: Wire,
    readonly deadline: number,
    readonly budget: number,
  ) {}

  get done(): boolean {
    const s = this.stats;
    return Date.now() >= this.deadline || s.mutated + s.generated + s.bodies >= this.budget;
  }

  /** A source address no worker has used yet. */
  freshAddress(): string {
    return sourceAddress(this.#sent++);
  }
}

/** Which credentials header a Mitm damages. */
export type Layer = "authorization" | "proxy-authorization";

/** A Request as the fuzzer edits it (headers in order, body bytes). */
async function toMutable(request: Request): Promise<CapturedRequest> {
  const url = new URL(request.url);
  const headers: Array<[string, string]> = [];
  request.headers.forEach((value, name) => {
    headers.push([name, value]);
  });
  const body =
    request.method === "GET" || request.method === "HEAD"
      ? undefined
      : new Uint8Array(await request.arrayBuffer());
  return {
    method: request.method,
    target: url.pathname + url.search,
    headers,
    body,
    origin: url.origin,
  };
}

/** A captured genuine request: the one a client computed, never sent as such. */
export type CapturedRequest = MutableRequest & { origin: string };

/** The damaging transport under one client. */
export class Mitm {
  /** Which credentials header to damage on the next requests; null passes them through. */
  mutate: Layer | null = null;
  /**
   * When set, requests are recorded here instead of sent, and answered with a
   * bare 204: the client computes genuine credentials (its next nc) without a
   * round trip, and the fuzzer damages and sends them in a batch (sendMutated).
   */
  capture: CapturedRequest[] | null = null;
  /** This worker's own source address and how many requests it has sent from it. */
  #address: string;
  #sentHere = 0;
  constructor(
    private readonly ctx: FuzzContext,
    private readonly rng: Rng,
  ) {
    this.#address = ctx.freshAddress();
  }

  /**
   * Called before each round's genuine request: after REQUESTS_PER_ADDRESS a
   * fresh address. The genuine request then proves the worker's identity from
   * it first (a trusted pair: only the pair budget, cleared by each success),
   * and its keep-alive connections serve the whole round.
   */
  nextRound(): void {
    if (this.#sentHere < REQUESTS_PER_ADDRESS) return;
    this.#address = this.ctx.freshAddress();
    this.#sentHere = 0;
  }

  readonly transport: FetchLike = async (request) => {
    const req = await toMutable(request);
    if (this.capture) {
      this.capture.push(req as CapturedRequest);
      return new Response(null, { status: 204 });
    }
    const layer = this.mutate;
    let kind: "pass" | "mutated" | "generated" = "pass";
    let mutation = "";
    let genuine: SentShape | undefined;
    if (layer) {
      if (req.headers.some(([n]) => n === layer)) {
        genuine = shapeOf(req, layer);
        mutation = this.#mutate(req, layer);
        kind = "mutated";
      } else if (this.rng.chance(0.5)) {
        req.headers.push([layer, generateCredentials(this.rng, this.ctx.nonces)]);
        kind = "generated";
        this.ctx.stats.generated++;
      }
    }
    const result = await this.#exchange(req as CapturedRequest, layer, kind, mutation, genuine);
    const { status } = result;
    return new Response(NO_BODY.has(status) || status < 200 ? null : new Uint8Array(result.body), {
      status: status < 200 || status > 599 ? 599 : status,
      headers: result.headers,
    });
  };

  /** Damages a captured genuine request (a copy of it is the oracle's reference) and sends it. */
  async sendMutated(captured: CapturedRequest, layer: Layer): Promise<void> {
    const req: CapturedRequest = { ...captured, headers: captured.headers.map(([n, v]) => [n, v]) };
    const genuine = shapeOf(captured, layer);
    const mutation = this.#mutate(req, layer);
    await this.#exchange(req, layer, "mutated", mutation, genuine).catch(() => undefined);
  }

  /** Credentials made from nothing on an otherwise plain request. */
  async sendGenerated(origin: string, method: string, target: string, layer: Layer): Promise<void> {
    this.ctx.stats.generated++;
    const req: CapturedRequest = {
      origin,
      method,
      target,
      headers: [[layer, generateCredentials(this.rng, this.ctx.nonces)]],
      body: method === "POST" ? new TextEncoder().encode("{}") : undefined,
    };
    if (req.body) req.headers.push(["content-type", "application/json"]);
    await this.#exchange(req, layer, "generated", "", undefined).catch(() => undefined);
  }

  #mutate(req: MutableRequest, layer: Layer): string {
    const { stats } = this.ctx;
    const name = mutateRequest(req, layer, this.rng);
    stats.byMutation[name] = (stats.byMutation[name] ?? 0) + 1;
    stats.mutated++;
    return name;
  }

  /** Sends one request and classifies the answer; throws when there was none. */
  async #exchange(
    req: CapturedRequest,
    layer: Layer | null,
    kind: "pass" | "mutated" | "generated",
    mutation: string,
    genuine: SentShape | undefined,
  ): Promise<Extract<WireResult, { kind: "answer" }>> {
    const { stats } = this.ctx;
    this.#sentHere++;
    const result = await this.ctx.wire.send({
      url: `${req.origin}${req.target}`,
      method: req.method,
      headers: req.headers,
      body: req.body,
      localAddress: this.#address,
    });
    const describe = () =>
      `${kind} ${mutation} ${req.method} ${req.target} ${req.headers
        .filter(([n]) => /authorization|content-type/i.test(n))
        .map(([n, v]) => `${n}: ${JSON.stringify(v.slice(0, 300))}`)
        .join(" | ")}`;
    if (result.kind === "reset" && result.raw) {
      // Not HTTP: Node's parser closed the connection before the app saw it.
      stats.closedByParser++;
      throw new Error(`closed by the HTTP parser: ${result.error}`);
    }
    if (result.kind === "reset") {
      stats.resets++;
      sample(stats.samples.resets, `${result.error}: ${describe()}`);
      throw new Error(`connection reset: ${result.error}`);
    }
    const { status } = result;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (status >= 500) {
      stats.fiveXx++;
      sample(
        stats.samples.fiveXx,
        `${status} ${result.body.toString("utf8", 0, 200)} <- ${describe()}`,
      );
    }
    if (status === 429) stats.rateLimited++;
    if (
      kind !== "pass" &&
      layer &&
      accepted(status, result.headers, layer === "proxy-authorization")
    ) {
      if (isForgery(genuine, shapeOf(req, layer))) {
        stats.forgeries++;
        sample(stats.samples.forgeries, `${status} <- ${describe()}`);
      } else stats.equivalentAccepted++;
    }
    const challenge =
      result.headers.get("www-authenticate") ?? result.headers.get("proxy-authenticate");
    const nonce = challenge && /nonce="([^"]+)"/.exec(challenge)?.[1];
    if (nonce && this.rng.chance(0.05)) {
      this.ctx.nonces.push(nonce);
      if (this.ctx.nonces.length > 64) this.ctx.nonces.shift();
    }
    return result;
  }
}

/** What the oracle compares: method, target, body and every value of the layer's header. */
function shapeOf(r: MutableRequest, layer: Layer): SentShape {
  return {
    method: r.method,
    target: r.target,
    body: r.body,
    credentials: r.headers.filter(([n]) => n.toLowerCase() === layer).map(([, v]) => v),
  };
}

async function drain(res: Response | undefined): Promise<void> {
  await res?.arrayBuffer().catch(() => undefined);
}

const CONTENT_TYPES = [
  "application/json",
  "application/json",
  "text/plain",
  "application/json; charset=utf-8",
  "application/merge-patch+json",
];

/** One genuine call that must succeed; counts it otherwise. */
async function genuineCall(
  ctx: FuzzContext,
  mitm: Mitm,
  call: () => Promise<Response>,
  what: string,
  passwordPrincipal = false,
): Promise<void> {
  mitm.mutate = null;
  mitm.nextRound();
  ctx.stats.genuine++;
  try {
    const res = await call();
    await drain(res);
    if (passwordPrincipal && res.status === 429) {
      ctx.stats.genuineLimited++;
    } else if (res.status < 200 || res.status >= 300) {
      ctx.stats.genuineRefused++;
      sample(ctx.stats.samples.genuineRefused, `${what}: ${res.status}`);
    }
  } catch (err) {
    ctx.stats.genuineRefused++;
    sample(ctx.stats.samples.genuineRefused, `${what}: ${String(err)}`);
  }
}

/**
 * One damaged batch: the client computes `FAILURES_PER_SUCCESS` genuine requests
 * (consecutive nc, captured before the wire), and all of them go out damaged at
 * once, on as many keep-alive connections; now and then credentials made from
 * nothing go with them. The limiter budget is the same as one by one: the
 * genuine call before the next batch clears the username's count.
 */
async function damagedBatch(
  ctx: FuzzContext,
  mitm: Mitm,
  rng: Rng,
  origin: string,
  pickCall: () => () => Promise<Response>,
): Promise<void> {
  const captured: CapturedRequest[] = [];
  mitm.capture = captured;
  try {
    for (let i = 0; i < FAILURES_PER_SUCCESS && !ctx.done; i++) await drain(await pickCall()());
  } finally {
    mitm.capture = null;
  }
  // Without a challenge (its last genuine call was refused) the client sends no
  // credentials: those requests get credentials made from nothing instead.
  const sends = captured.map((r) =>
    r.headers.some(([n]) => n === "authorization")
      ? mitm.sendMutated(r, "authorization")
      : mitm.sendGenerated(origin, r.method, r.target, "authorization"),
  );
  if (rng.chance(0.25)) {
    const plain = rng.pick(captured);
    if (plain) sends.push(mitm.sendGenerated(origin, plain.method, plain.target, "authorization"));
  }
  await Promise.all(sends);
}

async function attempt(call: () => Promise<Response>): Promise<void> {
  try {
    await drain(await call());
  } catch {
    // refusals and resets are counted by the transport
  }
}

/** An entity hammering the CPNS Server with its EUKey (username = Entity ID). */
export async function fuzzServerEntity(
  ctx: FuzzContext,
  serverUrl: string,
  entity: { entityId: string; eukey: string },
  seed: number,
): Promise<void> {
  const rng = new Rng(seed);
  const mitm = new Mitm(ctx, rng);
  const client = createDigestFetch({
    username: entity.entityId,
    password: entity.eukey,
    qop: rng.chance(0.5) ? "auth" : "auth-int",
    userhash: rng.chance(0.5),
    algorithms: rng.chance(0.2) ? ["MD5"] : rng.chance(0.3) ? ["SHA-512-256"] : undefined,
    fetch: mitm.transport,
  });
  const routes = [
    () => client(`${serverUrl}/cpns/v1/whoami`),
    () => client(`${serverUrl}/cpns/v1/otks/inbox`),
    () =>
      client(
        `${serverUrl}/cpns/v1/otks/${rng.pick(["AAAAAAAAAAAAAAAAAAAAAA", "x", "%2e%2e"])}/delivery`,
        { method: "POST" },
      ),
    () =>
      client(`${serverUrl}/cpns/v1/otks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: generateJsonText(rng),
      }),
  ];
  while (!ctx.done) {
    await genuineCall(
      ctx,
      mitm,
      () => client(`${serverUrl}/cpns/v1/whoami`),
      `whoami ${entity.entityId}`,
    );
    await damagedBatch(ctx, mitm, rng, new URL(serverUrl).origin, () => rng.pick(routes));
    mitm.mutate = null;
    ctx.stats.bodies++;
    await attempt(() =>
      client(
        `${serverUrl}${rng.pick(["/cpns/v1/otks", "/cpns/v1/otks", `/cpns/v1/otks/${rng.int(1e6)}/consume`])}`,
        {
          method: "POST",
          headers: { "content-type": rng.pick(CONTENT_TYPES) },
          body: generateJsonText(rng),
        },
      ),
    );
  }
}

/** A CPNS User (username = User ID, secret = password), whose routes take JSON bodies. */
export async function fuzzServerUser(
  ctx: FuzzContext,
  serverUrl: string,
  user: { userId: string; password: string },
  seed: number,
): Promise<void> {
  const rng = new Rng(seed);
  const mitm = new Mitm(ctx, rng);
  const client = createDigestFetch({
    username: user.userId,
    password: user.password,
    qop: rng.chance(0.5) ? "auth" : "auth-int",
    userhash: rng.chance(0.5),
    fetch: mitm.transport,
  });
  let n = 0;
  while (!ctx.done) {
    await genuineCall(
      ctx,
      mitm,
      () => client(`${serverUrl}/cpns/v1/entities`),
      `entities ${user.userId}`,
      true,
    );
    await damagedBatch(ctx, mitm, rng, new URL(serverUrl).origin, () =>
      rng.chance(0.5)
        ? () => client(`${serverUrl}/cpns/v1/entities`)
        : () =>
            client(`${serverUrl}/cpns/v1/enrollments`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ entityId: `${user.userId}-fz-${n++ % 8}`, type: "PNE" }),
            }),
    );
    mitm.mutate = null;
    ctx.stats.bodies++;
    await attempt(() =>
      client(`${serverUrl}/cpns/v1/enrollments`, {
        method: "POST",
        headers: { "content-type": rng.pick(CONTENT_TYPES) },
        body: generateJsonText(rng),
      }),
    );
  }
}

/**
 * A peer with an OTK from the PN GW: it opens a session through the damaging
 * transport, then alternates genuine relayed whoami requests with damaged
 * Proxy-Authorization (the relay) and damaged Authorization (session messages).
 */
export async function fuzzGatewayPeer(
  ctx: FuzzContext,
  serverUrl: string,
  peer: { entityId: string; eukey: string; received: ReceivedOtk },
  seed: number,
): Promise<void> {
  const rng = new Rng(seed);
  const mitm = new Mitm(ctx, rng);
  const session = await PeerSession.open({
    entityId: peer.entityId,
    received: peer.received,
    fetch: mitm.transport,
  });
  const endToEnd = createDigestFetch({
    username: peer.entityId,
    password: peer.eukey,
    qop: "auth-int",
    fetch: session.relayTransport(),
  });
  const sendMessage = async (text: string) => {
    await session.send(text);
    return new Response(null, { status: 204 });
  };
  const opened = Date.now();
  while (!ctx.done) {
    // Over (expired, or ended by the PN GW's 410 to a damaged message): nothing
    // more this peer sends reaches the wire, so its worker stops here.
    const expiresAt = session.expiresAt;
    const over =
      session.state !== "open"
        ? session.state
        : expiresAt !== null && Date.now() / 1000 >= expiresAt - 5
          ? "expiring"
          : undefined;
    if (over) {
      ctx.stats.peerSessionsOver.push(
        `${peer.entityId}: ${over} after ${Math.round((Date.now() - opened) / 1000)} s`,
      );
      break;
    }
    await genuineCall(
      ctx,
      mitm,
      () => endToEnd(`${serverUrl}/cpns/v1/whoami`),
      `relay ${peer.entityId}`,
    );
    for (let i = 0; i < FAILURES_PER_SUCCESS && !ctx.done; i++) {
      if (rng.chance(0.6)) {
        mitm.mutate = "proxy-authorization";
        await attempt(() =>
          rng.chance(0.7)
            ? endToEnd(`${serverUrl}/cpns/v1/whoami`)
            : endToEnd(`${serverUrl}/cpns/v1/otks`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: generateJsonText(rng),
              }),
        );
      } else {
        mitm.mutate = "authorization";
        await attempt(() => sendMessage(rng.chance(0.8) ? "hello" : generateJsonText(rng)));
      }
    }
    mitm.mutate = null;
    ctx.stats.bodies++;
    await attempt(() =>
      rng.chance(0.5)
        ? sendMessage(generateJsonText(rng))
        : endToEnd(`${serverUrl}/cpns/v1/otks`, {
            method: "POST",
            headers: { "content-type": rng.pick(CONTENT_TYPES) },
            body: generateJsonText(rng),
          }),
    );
  }
  await session.close().catch(() => undefined);
}
