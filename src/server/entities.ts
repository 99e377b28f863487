/**
 * Seed 5.x.1 (EUKey assignment), 5.x.2 (entity authentication) and 5.x.3
 * (authorisation by Entity ID and User ID). Every change goes through the
 * entity lifecycle machine: load the record, rebuild the snapshot, ask the
 * machine, and only if it accepts, write the new record (key, version and
 * machine state together, in one write). A refusal writes nothing.
 *
 * The EUKey (32 random bytes) travels to its owner sealed under a key derived
 * from the owner's HA1 and this exchange's nonce and cnonce
 * (src/protocol/key-transport.ts), and rests sealed under the master key.
 *
 * Implements: SEED-5.x.1-1, SEED-5.x.1-2, SEED-5.x.2-1, SEED-5.x.3-1, SERVER-EUKEY-FORMAT, ENTITY-LIFECYCLE, SERVER-OWNERSHIP, STORE-NO-HALF-WRITE, ORACLE-OWNER
 * Implements: TLSDECL-ENROLL, TLSDECL-REFUSE-PLAIN, ENROLL-PRIMED
 */
import type { Context } from "hono";
import { fromUtf8 } from "../crypto/bytes.ts";
import { randomBytes } from "../crypto/provider.ts";
import { ALGORITHMS, computeUserhash } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { readJson } from "../protocol/body.ts";
import { EUKEY_TRANSPORT_ALG, sealEukey } from "../protocol/key-transport.ts";
import type { Whoami } from "../protocol/responses.ts";
import {
  type EnrollResponse,
  type EntityView,
  enrollSchema,
  ID_PATTERN,
} from "../protocol/schemas.ts";
import type { EntityRecord } from "../store/records.ts";
import type { Principal, ServerEnv, ServerParts } from "./context.ts";
import { eukeySealId, ha1SealId } from "./credentials.ts";
import { entitySnapshot, persist, step } from "./entity-model.ts";
import { logTlsRefusal, tlsRequirement } from "./tls-declaration.ts";

function userOf(principal: Principal): string {
  if (principal.kind !== "user") throw new CpnsError("ERR_FORBIDDEN");
  return principal.userId;
}

function view(record: EntityRecord): EntityView {
  const { entityId, userId, type, keyVersion, createdAt, updatedAt } = record;
  const state = record.machine.value;
  return {
    entityId,
    userId,
    type,
    keyVersion,
    state,
    tls: record.tls === true,
    createdAt,
    updatedAt,
  };
}

/**
 * `challenges`: fresh challenges of the guard's verifier, handed to a new or
 * rotated entity with its key (ENROLL-PRIMED), so its first request as the
 * entity answers at once.
 */
export function entityHandlers(parts: ServerParts, challenges: () => string[] = () => []) {
  const { users, entities, cipher, log, config, locks } = parts;
  const crypto = config.crypto;
  const tls = tlsRequirement(config);
  /** Refuses (and logs) the enrollment of a declared entity over plain HTTP. */
  function requireTls(c: Context<ServerEnv>, declared: boolean, userId: string, entityId: string) {
    if (!tls.refuses(declared, c.req.raw, c.env)) return;
    logTlsRefusal(parts, c.req.raw, c.env, { userId, entityId });
    throw new CpnsError("ERR_TLS_REQUIRED");
  }

  /**
   * Loads an entity the principal owns. Issue #9 item 8: another owner's entity
   * is 404 exactly like a missing one (403 told a user which ids exist); an id
   * that cannot be valid (item 9: e.g. 15 KB) is 404 without reading the store.
   */
  async function ownedEntity(userId: string, entityId: string): Promise<EntityRecord> {
    if (!ID_PATTERN.test(entityId)) throw new CpnsError("ERR_NOT_FOUND");
    const record = await entities.get(entityId);
    if (!record || record.userId !== userId) throw new CpnsError("ERR_NOT_FOUND");
    return record;
  }

  async function enroll(c: Context<ServerEnv>) {
    const userId = userOf(c.var.principal);
    const body = await readJson(c, enrollSchema, config.bodyLimitBytes);
    const { entityId, type } = body;
    const digest = c.var.digest;
    // Issue #10 (tls-declare): the answer carries the key of an entity that declares TLS:
    // it is refused over plain HTTP before anything is read or written.
    requireTls(c, body.tls === true, userId, entityId);

    return locks.run(`id:${entityId}`, async () => {
      if (await users.get(entityId)) throw new CpnsError("ERR_ID_TAKEN");
      const existing = await entities.get(entityId);
      const snapshot = entitySnapshot(entityId, existing);
      const next = step(
        snapshot,
        existing
          ? { type: "ROTATE", userId, entityType: type }
          : { type: "ENROLL", userId, entityType: type },
      );
      if (!next) {
        // The machine said no; say why, without writing anything.
        if (existing && existing.userId !== userId) throw new CpnsError("ERR_NOT_OWNER");
        if (existing && snapshot.value === "active" && existing.type !== type) {
          throw new CpnsError("ERR_ENTITY_TYPE_MISMATCH");
        }
        throw new CpnsError("ERR_ENTITY_STATE");
      }
      // A declaration stays: a rotation may add it, never withdraw it (an old client that
      // says nothing keeps it; an explicit false is refused rather than ignored).
      if (existing?.tls === true && body.tls === false) {
        throw new CpnsError("ERR_TLS_DECLARATION_FIXED");
      }
      const declaredTls = existing?.tls === true || body.tls === true;
      requireTls(c, declaredTls, userId, entityId);
      const keyVersion = next.context.keyVersion;
      const eukey = randomBytes(32, crypto);

      // The owner's HA1 for the hash of this exchange's algorithm, for the key transport.
      const hash = ALGORITHMS[digest.algorithm].hash;
      const owner = await users.get(userId);
      const sealedHa1 = owner?.ha1[hash];
      if (!sealedHa1) throw new CpnsError("ERR_STORE_CORRUPT");
      const ha1 = fromUtf8(await cipher.open("ha1", ha1SealId(userId, hash), sealedHa1));
      const context = { entityId, userId, type, keyVersion };
      const sealedKey = await sealEukey(
        eukey,
        { ha1, nonce: digest.nonce, cnonce: digest.cnonce },
        context,
        crypto,
      );

      const now = new Date(parts.now()).toISOString();
      const record: EntityRecord = {
        v: 1,
        entityId,
        userId,
        type,
        keyVersion,
        eukey: await cipher.seal("eukey", eukeySealId(entityId, keyVersion), eukey),
        machine: persist(next),
        ...(declaredTls ? { tls: true } : {}),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      const userhashes = existing
        ? []
        : (["SHA-256", "SHA-512-256", "MD5"] as const).map((name) => ({
            hash: ALGORITHMS[name].hash,
            userhash: computeUserhash(ALGORITHMS[name], entityId, config.realm),
          }));
      await entities.put(record, userhashes);
      log.emit({
        event: existing ? "entity.rotated" : "entity.enrolled",
        userId,
        entityId,
        entityType: type,
        keyVersion,
      });
      const response: EnrollResponse = {
        ...context,
        rotated: Boolean(existing),
        tls: declaredTls,
        alg: EUKEY_TRANSPORT_ALG,
        sealedKey,
      };
      // The new key's first challenge (ENROLL-PRIMED, RFC 7235 §4.1 allows it on any
      // answer). Unauthenticated like every challenge: the agent checks it against its
      // own minimums, and a forged one costs it a 401 round trip, nothing more.
      for (const challenge of challenges()) {
        c.header("WWW-Authenticate", challenge, { append: true });
      }
      return c.json(response, existing ? 200 : 201);
    });
  }

  async function list(c: Context<ServerEnv>) {
    const userId = userOf(c.var.principal);
    return c.json({ entities: (await entities.listByUser(userId)).map(view) });
  }

  async function get(c: Context<ServerEnv>) {
    const userId = userOf(c.var.principal);
    return c.json(view(await ownedEntity(userId, c.req.param("entityId") ?? "")));
  }

  async function revoke(c: Context<ServerEnv>) {
    const userId = userOf(c.var.principal);
    const entityId = c.req.param("entityId") ?? "";
    return locks.run(`id:${entityId}`, async () => {
      const record = await ownedEntity(userId, entityId);
      const next = step(entitySnapshot(entityId, record), { type: "REVOKE", userId });
      if (!next) throw new CpnsError("ERR_ENTITY_STATE");
      const { eukey: _withdrawn, ...rest } = record;
      const revoked: EntityRecord = {
        ...rest,
        machine: persist(next),
        updatedAt: new Date(parts.now()).toISOString(),
      };
      await entities.put(revoked);
      log.emit({ event: "entity.revoked", userId, entityId, keyVersion: record.keyVersion });
      return c.json(view(revoked));
    });
  }

  async function whoami(c: Context<ServerEnv>) {
    const principal = c.var.principal;
    if (principal.kind !== "PNE" && principal.kind !== "PNGW") throw new CpnsError("ERR_FORBIDDEN");
    const answer: Whoami = {
      entityId: principal.entityId,
      userId: principal.userId,
      type: principal.kind,
      keyVersion: principal.keyVersion,
    };
    return c.json(answer);
  }

  return { enroll, list, get, revoke, whoami };
}
