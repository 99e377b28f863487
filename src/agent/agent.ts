/**
 * The device side of seed 5.x.1 and 5.x.2 for a PNE or a PN GW: enrol with
 * the owner's User ID and password (the EUKey arrives sealed and is opened
 * here), then authenticate to the CPNS Server with Digest using the EUKey,
 * REQUIRING the server's rspauth (our resolution of the server-authentication
 * FFS). Every step is gated by the agent machine (machines/agent.ts), whose
 * snapshot is kept with the key in the device's key store, through the same
 * gate as the server's machines (src/machine-gate/bridge.ts, issue #10 "Machines").
 *
 * Implements: SEED-5.x.1-1, SEED-5.x.2-1, FFS-SERVER-AUTH, AGENT-LIFECYCLE, AGENT-REQUIRE-RSPAUTH
 * Implements: AGENT-NO-DOWNGRADE, FIRSTRUN-REFUSALS, AGENT-NONCE-REUSE, ENROLL-PRIMED, AGENT-NEWEST-KEY
 * Implements: CHMODEL-ONE-GATE
 * Implements: TLSDECL-ENROLL, TLSDECL-DOWNGRADE-MITM
 */

import type { SnapshotFrom } from "xstate";
import { type AgentEvent, agentMachine } from "../../machines/agent.ts";
import { toBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import {
  ALGORITHMS,
  computeHa1,
  type DigestAlgorithm,
  digestExchangeOf,
  type FetchLike,
  STRONG_ALGORITHMS,
} from "../digest/index.ts";
import { CpnsError, errorCodeOf } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import { openEukey } from "../protocol/key-transport.ts";
import type { EnrollResponse } from "../protocol/schemas.ts";
import { agentDigestFetch, primedAgentDigestFetch } from "./digest-fetch.ts";
import type { DeviceKeyStore, DeviceRecord } from "./keystore.ts";

export interface AgentOptions {
  serverUrl: string;
  /**
   * Digest qop of every request. Default "auth-int": the request body and the
   * server's answer body are then covered too, so a PN GW relaying this
   * entity's traffic (spec/otk.md §6) cannot alter either undetected.
   */
  qop?: "auth" | "auth-int";
  /**
   * The weakest qop accepted from a challenge (issue #9 item 1): challenges are
   * not authenticated, so a relay or anyone on the path could strip auth-int.
   * Default: `qop`. A challenge offering less fails with ERR_DIGEST_DOWNGRADE.
   */
  minimumQop?: "auth" | "auth-int";
  /** Digest algorithms allowed, strongest first. Default SHA-512-256 and SHA-256 (and -sess): no MD5. */
  algorithms?: readonly DigestAlgorithm[];
  store: DeviceKeyStore;
  fetch?: FetchLike;
  crypto?: CryptoProvider;
}

export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AgentError";
  }
}

type AgentSnapshot = SnapshotFrom<typeof agentMachine>;

/** The one gate (src/machine-gate/bridge.ts): a stored state the machine does not have is ERR_STORE_CORRUPT. */
const gate = machineBridge(agentMachine);

function restore(record: DeviceRecord | undefined, entityId: string): AgentSnapshot {
  if (!record) return gate.initial({ entityId });
  return gate.restore({
    value: record.machine.value,
    context: { entityId, keyVersion: record.keyVersion },
  });
}

/** Applies an event the machine must accept; a refusal is a bug in the caller's order of steps. */
function advance(snapshot: AgentSnapshot, event: AgentEvent): AgentSnapshot {
  const next = gate.step(snapshot, event);
  if (!next) {
    throw new CpnsError(
      "ERR_ENTITY_STATE",
      `agent in ${String(snapshot.value)} cannot ${event.type}`,
    );
  }
  return next;
}

export async function problemOf(res: Response): Promise<AgentError> {
  let code = `HTTP_${res.status}`;
  let title = res.statusText;
  try {
    const body = (await res.json()) as { code?: string; title?: string; detail?: string };
    code = body.code ?? code;
    title = [body.title, body.detail].filter(Boolean).join(": ") || title;
  } catch {
    // Not problem+json: keep the status line.
  }
  const retryAfter = res.headers.get("retry-after");
  if (res.status === 429 && retryAfter) title += ` (retry after ${retryAfter} s)`;
  return new AgentError(res.status, code, title);
}

export class EntityAgent {
  readonly #base: string;
  /**
   * One Digest client per entity and EUKey (issue #12 "Speed"): the client keeps the
   * server's nonce and its nonce-count, so every request after the first answers at
   * once instead of costing a 401 round trip. A new EUKey (rotation, re-enrollment)
   * gets a new client; a stale or dropped nonce is answered by the client itself.
   */
  readonly #entityFetches = new Map<
    string,
    { eukey: string; fetch: ReturnType<typeof agentDigestFetch> }
  >();

  constructor(private readonly options: AgentOptions) {
    this.#base = options.serverUrl.replace(/\/+$/, "");
  }

  /**
   * The machine's verdict after a step that used the key `used` (a request, a failed
   * rotation). A rotation that finished meanwhile wrote a newer key with its own state:
   * that record stands, since the verdict is about a key the device no longer holds
   * (writing it back would pair the new key with the old version and an "authenticated"
   * the new key never earned).
   */
  async #settle(entityId: string, used: DeviceRecord, snapshot: AgentSnapshot): Promise<void> {
    const current = await this.options.store.get(entityId);
    if (current?.eukey !== used.eukey) return;
    await this.options.store.put({ ...current, machine: { value: String(snapshot.value) } });
  }

  /**
   * Keeps a newly obtained key, unless the store already holds a newer one (two
   * enrollments of one entity raced and the later key arrived first: the server now
   * accepts only that one). Answers the record the device holds afterwards. (A lower
   * version than the device held never gets here: the agent machine's ENROLLED
   * accepts only a newer key, so a newer stored one was stored meanwhile.)
   */
  async #keep(record: DeviceRecord): Promise<DeviceRecord> {
    const current = await this.options.store.get(record.entityId);
    if (current && current.keyVersion > record.keyVersion) return current;
    await this.options.store.put(record);
    return record;
  }

  /** What every Digest exchange of this agent insists on: rspauth, a qop floor, no MD5. */
  #protection() {
    const qop = this.options.qop ?? "auth-int";
    return {
      requireRspauth: true,
      qop,
      minimumQop: this.options.minimumQop ?? qop,
      algorithms: this.options.algorithms ?? STRONG_ALGORITHMS,
    };
  }

  /** 5.x.1: the owner's User ID and password obtain (or rotate) this entity's EUKey. */
  async enroll(input: {
    userId: string;
    password: string;
    entityId: string;
    type: "PNE" | "PNGW";
    /** Issue #10 (tls-declare): declare that this entity supports TLS (the server then refuses it plain HTTP). */
    tls?: boolean;
  }): Promise<DeviceRecord> {
    const { userId, password, entityId, type } = input;
    const previous = await this.options.store.get(entityId);
    const enrolling = advance(restore(previous, entityId), { type: "ENROLL" });
    const fetchAsOwner = agentDigestFetch({
      username: userId,
      password,
      ...this.#protection(),
      fetch: this.options.fetch,
      crypto: this.options.crypto,
    });
    let record: { eukey: Uint8Array; keyVersion: number };
    let firstChallenge: string | null = null;
    try {
      const res = await fetchAsOwner(`${this.#base}/cpns/v1/enrollments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Sent only when declared, so a server without the field still takes the body.
        body: JSON.stringify(input.tls ? { entityId, type, tls: true } : { entityId, type }),
      });
      if (!res.ok) throw await problemOf(res);
      firstChallenge = res.headers.get("www-authenticate");
      const body = (await res.json()) as EnrollResponse;
      const exchange = digestExchangeOf(res);
      if (!exchange) throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      const ha1 = computeHa1(ALGORITHMS[exchange.algorithm], userId, exchange.realm, password);
      const eukey = await openEukey(
        body.sealedKey,
        { ha1, nonce: exchange.nonce, cnonce: exchange.cnonce },
        { entityId, userId, type, keyVersion: body.keyVersion },
        this.options.crypto,
      );
      const declarationKept = !input.tls || body.tls === true;
      if (
        !eukey ||
        body.entityId !== entityId ||
        body.userId !== userId ||
        body.type !== type ||
        !declarationKept
      ) {
        throw new CpnsError("ERR_KEY_UNWRAP");
      }
      record = { eukey, keyVersion: body.keyVersion };
    } catch (err) {
      // Nothing was obtained: a device that had a key keeps it; one that had none
      // records nothing.
      if (previous)
        await this.#settle(entityId, previous, advance(enrolling, { type: "ENROLL_FAILED" }));
      throw err;
    }
    const enrolled = advance(enrolling, { type: "ENROLLED", keyVersion: record.keyVersion });
    const eukey = toBase64url(record.eukey);
    const saved = await this.#keep({
      entityId,
      serverUrl: this.#base,
      userId,
      type,
      keyVersion: enrolled.context.keyVersion,
      eukey,
      machine: { value: String(enrolled.value) },
    });
    if (saved.eukey !== eukey) return saved;
    // The enrollment's answer carries the new key's first challenge (ENROLL-PRIMED).
    this.#entityFetches.set(entityId, {
      eukey,
      fetch: primedAgentDigestFetch(this.#entityOptions(entityId, eukey), {
        challenge: firstChallenge,
        origin: new URL(this.#base).origin,
      }),
    });
    return saved;
  }

  /**
   * 5.x.2: Digest with username = Entity ID and secret = base64url(EUKey); the
   * server must answer with a valid rspauth or nothing it says is believed.
   */
  async fetchAsEntity(entityId: string, path: string, init?: RequestInit): Promise<Response> {
    const record = await this.options.store.get(entityId);
    if (!record?.eukey) throw new CpnsError("ERR_ENTITY_STATE", `${entityId} holds no EUKey`);
    const snapshot = advance(restore(record, entityId), { type: "AUTHENTICATE" });
    const fetchAsEntity = this.#entityFetch(entityId, record.eukey);
    let res: Response;
    try {
      res = await fetchAsEntity(`${this.#base}${path}`, init);
    } catch (err) {
      if (errorCodeOf(err) === "ERR_DIGEST_SERVER_UNAUTHENTICATED") {
        await this.#settle(entityId, record, advance(snapshot, { type: "SERVER_UNPROVEN" }));
      }
      throw err;
    }
    if (res.status === 401 || (res.status >= 400 && !digestExchangeOf(res))) {
      // The key is kept: a 401, or a refusal the server did not authenticate (a 429
      // of the failure limiter, a 503), proves nothing about who sent it. It is
      // reported as what it says it is, never acted on (issue #13 item 1).
      await this.#settle(entityId, record, advance(snapshot, { type: "REJECTED" }));
      throw await problemOf(res);
    }
    if (!digestExchangeOf(res)) {
      await this.#settle(entityId, record, advance(snapshot, { type: "SERVER_UNPROVEN" }));
      throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    }
    await this.#settle(entityId, record, advance(snapshot, { type: "SERVER_PROVED" }));
    return res;
  }

  #entityFetch(entityId: string, eukey: string): ReturnType<typeof agentDigestFetch> {
    const cached = this.#entityFetches.get(entityId);
    if (cached?.eukey === eukey) return cached.fetch;
    const fetch = agentDigestFetch(this.#entityOptions(entityId, eukey));
    this.#entityFetches.set(entityId, { eukey, fetch });
    return fetch;
  }

  /** 5.x.2: username = Entity ID, secret = base64url(EUKey), with this agent's protection. */
  #entityOptions(entityId: string, eukey: string) {
    return {
      username: entityId,
      password: eukey,
      ...this.#protection(),
      fetch: this.options.fetch,
      crypto: this.options.crypto,
    };
  }

  async whoami(entityId: string): Promise<Record<string, unknown>> {
    const res = await this.fetchAsEntity(entityId, "/cpns/v1/whoami");
    if (!res.ok) throw await problemOf(res);
    return (await res.json()) as Record<string, unknown>;
  }
}
