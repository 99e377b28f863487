/**
 * Seed 5.x.2 (entity authentication with the EUKey as the Digest secret) and
 * 5.x.1 (the owner proves User ID and password): the one Digest credential
 * lookup of the CPNS Server. Entity IDs and User IDs share one namespace (the
 * server refuses to create one with the other's id), so a username names at
 * most one principal. An entity authenticates only if its lifecycle machine
 * accepts AUTHENTICATE for its current key version: a revoked entity, or a
 * rotated-away key, never does.
 *
 * Implements: SEED-5.x.1-1, SEED-5.x.2-1, SEED-5.x.3-1, SERVER-EUKEY-FORMAT, ORACLE-LOOKUP, ORACLE-TIMING
 * Implements: TLSDECL-REFUSE-PLAIN
 */
import { fromUtf8, toBase64url } from "../crypto/bytes.ts";
import type { Credential, CredentialLookup } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { ID_PATTERN } from "../protocol/schemas.ts";
import type { EntityRecord } from "../store/records.ts";
import type { CredentialData, ServerParts } from "./context.ts";
import { entitySnapshot } from "./entity-model.ts";

export function eukeySealId(entityId: string, keyVersion: number): string {
  return `${entityId}#${keyVersion}`;
}

/**
 * An OTK at rest is bound to everything the server decides on (issuer and its
 * key version, addressee, expiry), so that a store writer without the master
 * key cannot redirect a waiting OTK, extend it, or move it to another key version.
 */
export function otkSealId(record: {
  otkId: string;
  issuerId: string;
  issuerKeyVersion: number;
  peerId: string;
  expiresAt: number;
}): string {
  const { otkId, issuerId, issuerKeyVersion, peerId, expiresAt } = record;
  return [otkId, issuerId, issuerKeyVersion, peerId, expiresAt].join("\u0000");
}

export function ha1SealId(userId: string, hash: string): string {
  return `${userId}#${hash}`;
}

/**
 * Issue #9 items 8 and 9: every lookup of a well-formed name costs the same
 * whether the name is an entity, a user or nothing: both records are read
 * (index first for a userhash) and exactly one AES-GCM open is done (the
 * credential's, or a dummy sealed once at start-up). A name that cannot be a
 * valid id (ID_PATTERN, or a userhash that is not hex) never reaches the store.
 */
export function credentialLookup(parts: ServerParts): CredentialLookup<CredentialData> {
  const { entities, users, cipher } = parts;
  let dummy: Promise<string> | undefined;
  const dummyOpen = async () => {
    dummy ??= cipher.seal("ha1", ha1SealId("\u0000dummy", "SHA-256"), new Uint8Array(64));
    await cipher.open("ha1", ha1SealId("\u0000dummy", "SHA-256"), await dummy);
  };

  async function entityCredential(
    record: EntityRecord,
  ): Promise<Credential<CredentialData> | undefined> {
    const snapshot = entitySnapshot(record.entityId, record);
    if (!record.eukey || !snapshot.can({ type: "AUTHENTICATE", keyVersion: record.keyVersion })) {
      await dummyOpen();
      return undefined;
    }
    const eukey = await cipher.open(
      "eukey",
      eukeySealId(record.entityId, record.keyVersion),
      record.eukey,
    );
    return {
      username: record.entityId,
      // The profile's entity secret: base64url(EUKey), unpadded.
      password: toBase64url(eukey),
      data: {
        kind: record.type,
        entityId: record.entityId,
        userId: record.userId,
        keyVersion: record.keyVersion,
        declaredTls: record.tls === true,
      },
    };
  }

  return async (request) => {
    const plausible = request.userhash
      ? /^[0-9a-fA-F]{32,128}$/.test(request.username)
      : ID_PATTERN.test(request.username);
    if (!plausible) {
      await dummyOpen();
      return undefined;
    }
    const [entity, user] = await Promise.all(
      request.userhash
        ? [
            entities.findByUserhash(request.hash, request.username),
            users.findByUserhash(request.hash, request.username),
          ]
        : [entities.get(request.username), users.get(request.username)],
    );
    if (entity) return entityCredential(entity);
    const sealed = user?.ha1[request.hash];
    if (!user || !sealed) {
      await dummyOpen();
      return undefined;
    }
    const ha1 = fromUtf8(await cipher.open("ha1", ha1SealId(user.userId, request.hash), sealed));
    return { username: user.userId, ha1, data: { kind: "user", userId: user.userId } };
  };
}

/**
 * The caller's EUKey of the version it authenticated with. Rotated or revoked
 * between the Digest check and now: the key it used is gone, and the answer
 * says so (OTK deposits and deliveries, secure channels).
 */
export async function currentEukeyOf(
  parts: Pick<ServerParts, "entities" | "cipher">,
  principal: { entityId: string; keyVersion: number },
): Promise<Uint8Array> {
  const record = await parts.entities.get(principal.entityId);
  if (!record?.eukey || record.keyVersion !== principal.keyVersion) {
    throw new CpnsError("ERR_ENTITY_STATE");
  }
  return parts.cipher.open("eukey", eukeySealId(record.entityId, record.keyVersion), record.eukey);
}
