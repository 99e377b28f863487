/**
 * Users and entities behind small repository interfaces, persisted with
 * unstorage (fs for the embedded server, memory in tests, Deno KV, Workers KV,
 * Redis). Keys are base64url of the id so no id can name a path of its own on
 * the fs driver; an id whose encoding is longer than 128 characters (any valid
 * id is far shorter) is keyed by "~" + SHA-256 hex instead, so no id, however
 * long, can exceed a file-name limit (issue #9 item 9; "~" is not base64url,
 * so a hashed key never equals an encoded one, and normal keys are unchanged). Each record is one value, written with one setItem: a
 * rotation or revocation replaces the whole record at once, and a failed write
 * leaves the previous record in place.
 *
 * userhash (RFC 7616 §3.4.4) lookups go through an index of H(id:realm) per
 * hash. Index entries are written before the record they point to, so a failed
 * write can leave a dangling index entry (harmless: it leads nowhere) but never
 * a record that cannot be found.
 *
 * Implements: SEED-5.x.1-2, STORE-LONG-ID, STORE-NO-HALF-WRITE, STORE-PERSISTENCE
 */
import type { Storage } from "unstorage";
import { toBase64url, utf8 } from "../crypto/bytes.ts";
import { type HashName, hashHex } from "../crypto/hash.ts";
import { CpnsError } from "../errors.ts";
import {
  type EntityRecord,
  entityRecordSchema,
  type OtkRecord,
  otkRecordSchema,
  type UserRecord,
  userRecordSchema,
} from "./records.ts";

const MAX_ENCODED_ID = 128;

/** The store key segment of an id: base64url, or its hash when that would be long. */
export function idSegment(id: string): string {
  const encoded = toBase64url(utf8(id));
  return encoded.length <= MAX_ENCODED_ID ? encoded : `~${hashHex("SHA-256", id)}`;
}

const keyOf = (prefix: string, id: string) => `${prefix}:${idSegment(id)}`;

/** An id no record has (ids never contain NUL): read to equalise lookups of missing names. */
const NO_ID = "\u0000none";

function validated<T>(
  schema: { safeParse(value: unknown): { success: boolean } },
  value: unknown,
): T | undefined {
  if (value === null || value === undefined) return undefined;
  if (!schema.safeParse(value).success) throw new CpnsError("ERR_STORE_CORRUPT");
  return value as T;
}

async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof CpnsError) throw err;
    // The driver's message may name paths or values: keep it out of the answer.
    throw new CpnsError("ERR_STORE_UNAVAILABLE");
  }
}

/** An index entry's id: `{ id }`, or a bare string as written before that form. */
function idIn(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id : undefined;
}

export interface UserhashEntry {
  hash: HashName;
  userhash: string;
}

class UserhashIndex {
  constructor(
    private readonly storage: Storage,
    private readonly prefix: string,
  ) {}

  key(hash: HashName, userhash: string): string {
    return `${this.prefix}:${hash}:${userhash.toLowerCase()}`;
  }

  async put(id: string, entries: readonly UserhashEntry[]): Promise<void> {
    await Promise.all(
      // An object, not the bare id: unstorage parses stored strings that look like
      // numbers or literals ("12345", "true"), which would turn the id into something else.
      entries.map((entry) => this.storage.setItem(this.key(entry.hash, entry.userhash), { id })),
    );
  }

  async find(hash: HashName, userhash: string): Promise<string | undefined> {
    if (!/^[0-9a-fA-F]{32,128}$/.test(userhash)) return undefined;
    return idIn(await this.storage.getItem(this.key(hash, userhash)));
  }
}

export class UserRepository {
  readonly #index: UserhashIndex;

  constructor(private readonly storage: Storage) {
    this.#index = new UserhashIndex(storage, "userhash-user");
  }

  get(userId: string): Promise<UserRecord | undefined> {
    return guarded(async () =>
      validated<UserRecord>(userRecordSchema, await this.storage.getItem(keyOf("user", userId))),
    );
  }

  /** As many reads for a missing userhash as for a known one (issue #9 item 8). */
  findByUserhash(hash: HashName, userhash: string): Promise<UserRecord | undefined> {
    return guarded(async () => {
      const id = await this.#index.find(hash, userhash);
      if (id !== undefined) return this.get(id);
      await this.storage.getItem(keyOf("user", NO_ID));
      return undefined;
    });
  }

  /** Creates the user; answers false when the id is taken (nothing is written then). */
  create(record: UserRecord, userhashes: readonly UserhashEntry[]): Promise<boolean> {
    return guarded(async () => {
      if (await this.storage.hasItem(keyOf("user", record.userId))) return false;
      await this.#index.put(record.userId, userhashes);
      await this.storage.setItem(keyOf("user", record.userId), record);
      return true;
    });
  }

  list(): Promise<string[]> {
    return guarded(async () => {
      const records = await Promise.all(
        (await this.storage.getKeys("user")).map((key) => this.storage.getItem(key)),
      );
      return records
        .filter((record): record is UserRecord => userRecordSchema.safeParse(record).success)
        .map((record) => record.userId)
        .sort();
    });
  }
}

export class EntityRepository {
  readonly #index: UserhashIndex;

  constructor(private readonly storage: Storage) {
    this.#index = new UserhashIndex(storage, "userhash-entity");
  }

  get(entityId: string): Promise<EntityRecord | undefined> {
    return guarded(async () =>
      validated<EntityRecord>(
        entityRecordSchema,
        await this.storage.getItem(keyOf("entity", entityId)),
      ),
    );
  }

  /** As many reads for a missing userhash as for a known one (issue #9 item 8). */
  findByUserhash(hash: HashName, userhash: string): Promise<EntityRecord | undefined> {
    return guarded(async () => {
      const id = await this.#index.find(hash, userhash);
      if (id !== undefined) return this.get(id);
      await this.storage.getItem(keyOf("entity", NO_ID));
      return undefined;
    });
  }

  /** Writes the whole record at once (enrol, rotate, revoke). */
  put(record: EntityRecord, userhashes: readonly UserhashEntry[] = []): Promise<void> {
    return guarded(async () => {
      await this.#index.put(record.entityId, userhashes);
      await this.storage.setItem(keyOf("entity", record.entityId), record);
    });
  }

  listByUser(userId: string): Promise<EntityRecord[]> {
    return guarded(async () => {
      const keys = await this.storage.getKeys("entity");
      const records = await Promise.all(keys.map((key) => this.storage.getItem(key)));
      // A damaged record cannot be attributed to an owner: it is left out of every
      // list (and answers 503 when named directly) rather than breaking all lists.
      return records
        .filter((record): record is EntityRecord => entityRecordSchema.safeParse(record).success)
        .filter((record) => record.userId === userId)
        .sort((a, b) => a.entityId.localeCompare(b.entityId));
    });
  }
}

/**
 * OTK records (seed 5.x.2), one value each, plus an index per addressee so an
 * entity's inbox is one prefix listing. As for userhashes, the index entry is
 * written first: a failed write leaves at most an entry that leads nowhere.
 */
export class OtkRepository {
  constructor(private readonly storage: Storage) {}

  get(otkId: string): Promise<OtkRecord | undefined> {
    return guarded(async () =>
      validated<OtkRecord>(otkRecordSchema, await this.storage.getItem(keyOf("otk", otkId))),
    );
  }

  has(otkId: string): Promise<boolean> {
    return guarded(() => this.storage.hasItem(keyOf("otk", otkId)));
  }

  put(record: OtkRecord): Promise<void> {
    return guarded(async () => {
      await this.storage.setItem(`${keyOf("otk-peer", record.peerId)}:${idSegment(record.otkId)}`, {
        id: record.otkId,
      });
      await this.storage.setItem(keyOf("otk", record.otkId), record);
    });
  }

  /** The OTK records addressed to `peerId`, oldest expiry first; damaged ones are left out. */
  listForPeer(peerId: string): Promise<OtkRecord[]> {
    return guarded(async () => {
      const ids = await Promise.all(
        (await this.storage.getKeys(keyOf("otk-peer", peerId))).map(async (key) =>
          idIn(await this.storage.getItem(key)),
        ),
      );
      const records = await Promise.all(
        ids
          .filter((id): id is string => id !== undefined)
          .map((id) => this.storage.getItem(keyOf("otk", id))),
      );
      return records
        .filter((record): record is OtkRecord => otkRecordSchema.safeParse(record).success)
        .filter((record) => record.peerId === peerId)
        .sort((a, b) => a.expiresAt - b.expiresAt || a.otkId.localeCompare(b.otkId));
    });
  }
}
