/**
 * Seed 5.x.2, second bullet: "PN GW creates onetime security key and share it
 * with another entity ... Sharing of onetime security key is intermediated by
 * CPNS Server and secured by EUKey." The server's side of that sharing:
 *
 *   POST /cpns/v1/otks                   deposit (a PN GW; sealed under its EUKey)
 *   GET  /cpns/v1/otks/inbox             what is waiting for the caller (no keys)
 *   POST /cpns/v1/otks/:otkId/delivery   the OTK, once, re-sealed under the addressee's EUKey
 *   POST /cpns/v1/otks/:otkId/consume    the issuing PN GW, before it opens a peer session
 *
 * Every change goes through the OTK machine (machines/otk.ts). Before any
 * event, a record is first settled: past its expiry it becomes `expired`, and
 * if its issuer's EUKey was rotated or revoked since the deposit it becomes
 * `revoked`, and so it does when its addressee was revoked (each drops the
 * sealed OTK). That is how revocation and rotation cut through. The OTK is sealed at rest under the master key until its
 * single delivery and never stored in clear.
 *
 * Implements: SEED-5.x.2-2, SEED-5.x.2-5, OTK-DEPOSIT, OTK-DELIVERY, OTK-PAIRING, OTK-CUT-THROUGH
 * Implements: OTK-TLS-PIN
 */
import type { Context } from "hono";
import type { SnapshotFrom } from "xstate";
import { type OtkEvent, otkMachine } from "../../machines/otk.ts";
import { CpnsError } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import { readJson } from "../protocol/body.ts";
import { OTK_TRANSPORT_ALG, openOtk, sealOtk } from "../protocol/otk-transport.ts";
import {
  type DepositOtkResponse,
  depositOtkSchema,
  type OtkDeliveryResponse,
  type OtkInboxResponse,
  type OtkView,
  otkIdSchema,
} from "../protocol/schemas.ts";
import type { EntityRecord, OtkRecord } from "../store/records.ts";
import type { Principal, ServerEnv, ServerParts } from "./context.ts";
import { currentEukeyOf, otkSealId } from "./credentials.ts";

type OtkSnapshot = SnapshotFrom<typeof otkMachine>;
type EntityPrincipal = Extract<Principal, { entityId: string }>;

const bridge = machineBridge(otkMachine);
const DEFAULT_MAX_LIFETIME_SECONDS = 300;

function entityOf(principal: Principal): EntityPrincipal {
  if (principal.kind !== "PNE" && principal.kind !== "PNGW") throw new CpnsError("ERR_FORBIDDEN");
  return principal;
}

function view(record: OtkRecord): OtkView {
  const { otkId, issuerId, peerId, expiresAt, endpoint, tlsPin } = record;
  return {
    otkId,
    issuerId,
    peerId,
    expiresAt,
    state: record.machine.value,
    ...(endpoint ? { endpoint } : {}),
    ...(tlsPin ? { tlsPin } : {}),
  };
}

export function otkHandlers(parts: ServerParts) {
  const { entities, otks, cipher, log, config, locks } = parts;
  const crypto = config.crypto;
  const maxLifetimeSeconds = config.otkMaxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
  const pairing =
    config.otkPairing ??
    ((issuer: EntityRecord, peer: EntityRecord) => issuer.userId === peer.userId);
  const nowSeconds = () => Math.floor(parts.now() / 1000);
  const stamp = () => new Date(parts.now()).toISOString();

  async function issuerKeyVersion(issuerId: string): Promise<number | null> {
    const issuer = await entities.get(issuerId);
    return issuer && issuer.machine.value === "active" ? issuer.keyVersion : null;
  }

  async function isActive(entityId: string): Promise<boolean> {
    return (await entities.get(entityId))?.machine.value === "active";
  }

  /** Every step after the deposit leaves the server without the OTK: it is dropped in the same write. */
  async function write(record: OtkRecord, next: OtkSnapshot): Promise<OtkRecord> {
    const { otk: _dropped, ...rest } = record;
    const updated: OtkRecord = { ...rest, machine: bridge.persist(next), updatedAt: stamp() };
    await otks.put(updated);
    return updated;
  }

  /** Expiry, issuer key changes and a revoked addressee first: the record as it stands now. */
  async function settle(record: OtkRecord): Promise<{ record: OtkRecord; snapshot: OtkSnapshot }> {
    const snapshot = bridge.restore(record.machine);
    const expired = bridge.step(snapshot, { type: "EXPIRE", now: nowSeconds() });
    const next =
      expired ??
      bridge.step(snapshot, {
        type: "ISSUER_KEY_CHANGED",
        issuerKeyVersion: await issuerKeyVersion(record.issuerId),
      }) ??
      bridge.step(snapshot, { type: "PEER_REVOKED", peerActive: await isActive(record.peerId) });
    if (!next) return { record, snapshot };
    const updated = await write(record, next);
    log.emit({
      event: expired ? "otk.expired" : "otk.revoked",
      entityId: record.issuerId,
      peerId: record.peerId,
      otkId: record.otkId,
    });
    return { record: updated, snapshot: next };
  }

  /** Loads an OTK by the id in the path; an id of the wrong shape names nothing. */
  async function load(c: Context<ServerEnv>): Promise<OtkRecord> {
    const parsed = otkIdSchema.safeParse(c.req.param("otkId"));
    const record = parsed.success ? await otks.get(parsed.data) : undefined;
    if (!record) throw new CpnsError("ERR_NOT_FOUND");
    return record;
  }

  /** After a refusal: the most precise reason, from the settled record. */
  function refusal(snapshot: OtkSnapshot, expected: OtkSnapshot["value"]): CpnsError {
    if (snapshot.status === "done") return new CpnsError("ERR_OTK_GONE");
    return new CpnsError(snapshot.value === expected ? "ERR_OTK_GONE" : "ERR_OTK_STATE");
  }

  async function deposit(c: Context<ServerEnv>) {
    const issuer = entityOf(c.var.principal);
    const body = await readJson(c, depositOtkSchema, config.bodyLimitBytes);
    const { otkId, peerId, expiresAt, sealedOtk, endpoint, tlsPin } = body;

    return locks.run(`otk:${otkId}`, async () => {
      // Seen before in any state: a replay (or a reused id), never a second OTK.
      if (await otks.has(otkId)) throw new CpnsError("ERR_OTK_REPLAYED");
      const [issuerRecord, peer] = await Promise.all([
        entities.get(issuer.entityId),
        entities.get(peerId),
      ]);
      if (!issuerRecord) throw new CpnsError("ERR_ENTITY_STATE");
      // Unknown peers and other users' entities get the same answer, before the
      // peer's state is looked at: a PN GW learns nothing about entities it may
      // not pair with.
      const pairingAllowed =
        peer !== undefined && peerId !== issuer.entityId && pairing(issuerRecord, peer);
      const peerActive = peer?.machine.value === "active";
      const now = nowSeconds();
      const context = { otkId, issuerId: issuer.entityId, peerId, expiresAt };
      const next = bridge.step(
        bridge.initial({ ...context, issuerKeyVersion: issuer.keyVersion }),
        {
          type: "DEPOSIT",
          issuerType: issuer.kind,
          peerActive,
          pairingAllowed,
          now,
          maxLifetimeSeconds,
        },
      );
      if (!next || !peer) {
        if (issuer.kind !== "PNGW") throw new CpnsError("ERR_FORBIDDEN");
        if (!pairingAllowed || !peer) throw new CpnsError("ERR_OTK_PAIRING_REFUSED");
        if (!peerActive) throw new CpnsError("ERR_ENTITY_STATE", "the peer holds no active EUKey");
        throw new CpnsError("ERR_OTK_EXPIRY", `at most ${maxLifetimeSeconds} s from now`);
      }
      // The pin is in the AAD (issue #10, OTK-TLS-PIN): one altered on the way does not open.
      const otk = await openOtk(
        "deposit",
        sealedOtk,
        await currentEukeyOf(parts, issuer),
        { ...context, ...(tlsPin ? { tlsPin } : {}) },
        crypto,
      );
      if (!otk) throw new CpnsError("ERR_OTK_UNSEAL");

      const created = stamp();
      const record: OtkRecord = {
        v: 1,
        otkId,
        issuerId: issuer.entityId,
        issuerKeyVersion: issuer.keyVersion,
        peerId,
        peerType: peer.type,
        expiresAt,
        ...(endpoint ? { endpoint } : {}),
        ...(tlsPin ? { tlsPin } : {}),
        otk: await cipher.seal(
          "otk",
          otkSealId({ ...context, issuerKeyVersion: issuer.keyVersion }),
          otk,
        ),
        machine: bridge.persist(next),
        createdAt: created,
        updatedAt: created,
      };
      await otks.put(record);
      log.emit({
        event: "otk.deposited",
        userId: issuerRecord.userId,
        entityId: issuer.entityId,
        keyVersion: issuer.keyVersion,
        peerId,
        otkId,
      });
      const response: DepositOtkResponse = { ...view(record), peerType: peer.type };
      return c.json(response, 201);
    });
  }

  async function inbox(c: Context<ServerEnv>) {
    const caller = entityOf(c.var.principal);
    const waiting: OtkView[] = [];
    for (const stored of await otks.listForPeer(caller.entityId)) {
      const { record } = await locks.run(`otk:${stored.otkId}`, async () => {
        const fresh = await otks.get(stored.otkId);
        // Stryker disable next-line ObjectLiteral: equivalent: destructuring `record` from {} gives undefined as well
        return fresh ? settle(fresh) : { record: undefined };
      });
      if (record?.machine.value === "deposited") waiting.push(view(record));
    }
    const response: OtkInboxResponse = { otks: waiting };
    return c.json(response);
  }

  async function deliver(c: Context<ServerEnv>) {
    const caller = entityOf(c.var.principal);
    return locks.run(`otk:${c.req.param("otkId")}`, async () => {
      const loaded = await load(c);
      if (loaded.peerId !== caller.entityId) throw new CpnsError("ERR_OTK_NOT_ADDRESSEE");
      const { record, snapshot } = await settle(loaded);
      const event: OtkEvent = {
        type: "DELIVER",
        callerId: caller.entityId,
        issuerKeyVersion: await issuerKeyVersion(record.issuerId),
        now: nowSeconds(),
      };
      const next = bridge.step(snapshot, event);
      if (!next) throw refusal(snapshot, "delivered");
      // Deposited records always hold the sealed OTK: one without it was damaged.
      if (!record.otk) throw new CpnsError("ERR_STORE_CORRUPT");
      const otk = await cipher.open("otk", otkSealId(record), record.otk);
      const context = {
        otkId: record.otkId,
        issuerId: record.issuerId,
        peerId: record.peerId,
        expiresAt: record.expiresAt,
        // Re-sealed to the peer with the pin the PN GW sealed, so the peer can pin its key.
        ...(record.tlsPin ? { tlsPin: record.tlsPin } : {}),
      };
      const sealedOtk = await sealOtk(
        "delivery",
        otk,
        await currentEukeyOf(parts, caller),
        context,
        crypto,
      );
      // The sealed copy is dropped in the same write that records the delivery: delivered once.
      const delivered = await write(record, next);
      log.emit({
        event: "otk.delivered",
        entityId: record.issuerId,
        peerId: record.peerId,
        otkId: record.otkId,
      });
      const response: OtkDeliveryResponse = {
        ...view(delivered),
        alg: OTK_TRANSPORT_ALG,
        sealedOtk,
      };
      return c.json(response);
    });
  }

  async function consume(c: Context<ServerEnv>) {
    const caller = entityOf(c.var.principal);
    return locks.run(`otk:${c.req.param("otkId")}`, async () => {
      const loaded = await load(c);
      if (loaded.issuerId !== caller.entityId) throw new CpnsError("ERR_OTK_NOT_ISSUER");
      const { record, snapshot } = await settle(loaded);
      const next = bridge.step(snapshot, {
        type: "CONSUME",
        callerId: caller.entityId,
        callerKeyVersion: caller.keyVersion,
        now: nowSeconds(),
      });
      // Stryker disable next-line StringLiteral: equivalent: "consumed" is a final state, so refusal() answers ERR_OTK_GONE from its status before it compares the value
      if (!next) throw refusal(snapshot, "consumed");
      const consumed = await write(record, next);
      log.emit({
        event: "otk.consumed",
        entityId: record.issuerId,
        peerId: record.peerId,
        otkId: record.otkId,
      });
      return c.json(view(consumed));
    });
  }

  return { deposit, inbox, deliver, consume };
}
