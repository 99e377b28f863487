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
import type { Wire } from "./wire.ts";

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

  nextAddress(): string {
    return sourceAddress(Math.floor(this.#sent++ / REQUESTS_PER_ADDRESS));
  }
}

/** The damaging transport under one client. */
export class Mitm {
  /** Which credentials header to damage on the next requests; null passes them through. */
  mutate: "authorization" | "proxy-authorization" | null = null;
  constructor(
    private readonly ctx: FuzzContext,
    private readonly rng: Rng,
  ) {}

  readonly transport: FetchLike = async (request) => {
    const url = new URL(request.url);
    const headers: Array<[string, string]> = [];
    request.headers.forEach((value, name) => {
      headers.push([name, value]);
    });
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? undefined
        : new Uint8Array(await request.arrayBuffer());
    const req: MutableRequest = {
      method: request.method,
      target: url.pathname + url.search,
      headers,
      body,
    };
    const layer = this.mutate;
    let kind: "pass" | "mutated" | "generated" = "pass";
    let mutation = "";
    let genuine: SentShape | undefined;
    const shape = (r: MutableRequest): SentShape => ({
      method: r.method,
      target: r.target,
      body: r.body,
      credentials: r.headers.filter(([n]) => n.toLowerCase() === layer).map(([, v]) => v),
    });
    const { stats } = this.ctx;
    if (layer) {
      if (headers.some(([n]) => n === layer)) {
        genuine = shape({ ...req, headers: req.headers.map(([n, v]) => [n, v]) });
        const name = mutateRequest(req, layer, this.rng);
        mutation = name;
        stats.byMutation[name] = (stats.byMutation[name] ?? 0) + 1;
        kind = "mutated";
        stats.mutated++;
      } else if (this.rng.chance(0.5)) {
        headers.push([layer, generateCredentials(this.rng, this.ctx.nonces)]);
        kind = "generated";
        stats.generated++;
      }
    }
    const result = await this.ctx.wire.send({
      url: `${url.origin}${req.target}`,
      method: req.method,
      headers: req.headers,
      body: req.body,
      localAddress: this.ctx.nextAddress(),
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
      if (isForgery(genuine, shape(req))) {
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
    return new Response(NO_BODY.has(status) || status < 200 ? null : new Uint8Array(result.body), {
      status: status < 200 || status > 599 ? 599 : status,
      headers: result.headers,
    });
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
    for (let i = 0; i < FAILURES_PER_SUCCESS && !ctx.done; i++) {
      mitm.mutate = "authorization";
      await attempt(rng.pick(routes));
    }
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
    for (let i = 0; i < FAILURES_PER_SUCCESS && !ctx.done; i++) {
      mitm.mutate = "authorization";
      await attempt(() =>
        rng.chance(0.5)
          ? client(`${serverUrl}/cpns/v1/entities`)
          : client(`${serverUrl}/cpns/v1/enrollments`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ entityId: `${user.userId}-fz-${n++ % 8}`, type: "PNE" }),
            }),
      );
    }
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
  while (!ctx.done) {
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
