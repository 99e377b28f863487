/**
 * Seed 5.x.2, second bullet, PN GW side: the OTKs this gateway offered and the
 * peer sessions they opened, each governed by its own gatewaySession machine
 * (machines/gateway-session.ts). Kept in memory: an OTK lives minutes and a
 * session at most its lifetime, so a restarted gateway simply offers again.
 *
 * One live offer per peer: Digest names the peer by its Entity ID, so a second
 * offer to the same peer withdraws the first (it can then never open a
 * session; at the server it expires unused). Key material is zeroed as soon as
 * it is no longer needed: the OTK once consumed or refused, the session secret
 * once the session ends.
 *
 * Implements: SEED-5.x.2-6, PEER-SESSION
 */
import type { SnapshotFrom } from "xstate";
import { type GatewaySessionEvent, gatewaySessionMachine } from "../../machines/gateway-session.ts";
import { machineBridge } from "../machine-gate/bridge.ts";

export type GatewaySessionSnapshot = SnapshotFrom<typeof gatewaySessionMachine>;

const bridge = machineBridge(gatewaySessionMachine);

export interface GatewaySessionEntry {
  snapshot: GatewaySessionSnapshot;
  /** The OTK while it may still open a session. */
  otk: Uint8Array | undefined;
  /** The per-session Digest secret while the session is open. */
  secret: Uint8Array | undefined;
}

/** What reviewers and tests may see of an entry: no key material. */
export interface GatewaySessionState {
  state: string;
  peerId: string;
  peerType: string | null;
  otkId: string;
  sessionId: string | null;
  sessionExpiresAt: number | null;
}

export class GatewaySessionBook {
  readonly #offers = new Map<string, GatewaySessionEntry>();
  readonly #sessions = new Map<string, GatewaySessionEntry>();
  /** Every entry ever made, newest last, for the state view (bounded). */
  readonly #history: GatewaySessionEntry[] = [];

  constructor(private readonly historyLimit = 256) {}

  create(input: {
    gatewayId: string;
    peerId: string;
    otkId: string;
    offerExpiresAt: number;
    otk: Uint8Array;
  }): GatewaySessionEntry {
    const { otk, ...context } = input;
    const entry: GatewaySessionEntry = {
      snapshot: bridge.initial(context),
      otk,
      secret: undefined,
    };
    this.#history.push(entry);
    if (this.#history.length > this.historyLimit) this.#history.shift();
    return entry;
  }

  /**
   * Applies an event the machine accepts and keeps the indexes in step with the
   * new state; answers false (and changes nothing) when the machine refuses.
   */
  apply(entry: GatewaySessionEntry, event: GatewaySessionEvent): boolean {
    const next = bridge.step(entry.snapshot, event);
    if (!next) return false;
    entry.snapshot = next;
    const { peerId, sessionId } = next.context;
    if (next.value === "offered") {
      const replaced = this.#offers.get(peerId);
      // The newer offer takes the peer's name: the older one can never be used.
      if (replaced && replaced !== entry) this.apply(replaced, { type: "WITHDRAW" });
      // Stryker disable BlockStatement: equivalent: (the else branch) a stale offer is never served (offerTo re-checks state and OTK) and the next offer replaces it; memory only (its condition's `false` stays counted: a killed `true` shares mutator and line)
      this.#offers.set(peerId, entry);
    } else if (this.#offers.get(peerId) === entry) {
      this.#offers.delete(peerId);
    }
    // Stryker restore BlockStatement
    if (next.value !== "offered" && next.value !== "consuming") {
      entry.otk?.fill(0);
      entry.otk = undefined;
    }
    // Stryker disable next-line LogicalOperator: equivalent: only open and the final states after it have a session id, and a final entry is deleted just below (the condition's `true` mutants stay counted: a killed `false` shares mutator and line)
    if (next.value === "open" && sessionId) this.#sessions.set(sessionId, entry);
    if (next.status === "done") {
      entry.secret?.fill(0);
      entry.secret = undefined;
      // Stryker disable next-line ConditionalExpression: equivalent: deleting an absent id does nothing, and a stale entry is never served (session() re-checks state and secret); memory only
      if (sessionId) this.#sessions.delete(sessionId);
    }
    return true;
  }

  /** The live offer to `peerId`, if any. */
  offerTo(peerId: string): GatewaySessionEntry | undefined {
    const entry = this.#offers.get(peerId);
    return entry?.snapshot.value === "offered" && entry.otk ? entry : undefined;
  }

  /** The open session `sessionId` (possibly past its expiry: the caller settles that). */
  session(sessionId: string): GatewaySessionEntry | undefined {
    const entry = this.#sessions.get(sessionId);
    return entry?.snapshot.value === "open" && entry.secret ? entry : undefined;
  }

  states(): GatewaySessionState[] {
    return this.#history.map(({ snapshot }) => ({
      state: String(snapshot.value),
      peerId: snapshot.context.peerId,
      peerType: snapshot.context.peerType,
      otkId: snapshot.context.otkId,
      sessionId: snapshot.context.sessionId,
      sessionExpiresAt: snapshot.context.sessionExpiresAt,
    }));
  }
}
