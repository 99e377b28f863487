/**
 * Seed 5.x.1 prerequisite: CPNS Users, created through the admin API. The
 * server keeps only HA1 = H(userId:realm:password) per hash for its realm,
 * sealed at rest; a password sent here is hashed and forgotten, and the CLI
 * sends HA1 values instead so the password never leaves the operator's machine.
 */
import type { Context } from "hono";
import { utf8 } from "../crypto/bytes.ts";
import type { HashName } from "../crypto/hash.ts";
import { ALGORITHMS, computeHa1, computeUserhash } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { readJson } from "../protocol/body.ts";
import { createUserSchema } from "../protocol/schemas.ts";
import type { UserRecord } from "../store/records.ts";
import type { ServerEnv, ServerParts } from "./context.ts";
import { ha1SealId } from "./credentials.ts";

/** One algorithm per hash: HA1 does not depend on the -sess flag. */
const HASH_ALGORITHMS = {
  "SHA-256": ALGORITHMS["SHA-256"],
  "SHA-512-256": ALGORITHMS["SHA-512-256"],
  MD5: ALGORITHMS.MD5,
} as const;

export function userHandlers(parts: ServerParts) {
  const { users, entities, cipher, log, config, mutex } = parts;

  async function create(c: Context<ServerEnv>) {
    const body = await readJson(c, createUserSchema, config.bodyLimitBytes);
    const { userId } = body;
    return mutex.run(`id:${userId}`, async () => {
      if (await entities.get(userId)) throw new CpnsError("ERR_ID_TAKEN");
      const ha1 = {} as Record<HashName, string>;
      const userhashes = [];
      for (const [hash, algorithm] of Object.entries(HASH_ALGORITHMS) as Array<
        [HashName, (typeof HASH_ALGORITHMS)[HashName]]
      >) {
        const value =
          body.password !== undefined
            ? computeHa1(algorithm, userId, config.realm, body.password)
            : (body.ha1 as Record<HashName, string>)[hash];
        ha1[hash] = await cipher.seal("ha1", ha1SealId(userId, hash), utf8(value));
        userhashes.push({ hash, userhash: computeUserhash(algorithm, userId, config.realm) });
      }
      const record: UserRecord = {
        v: 1,
        userId,
        ha1,
        createdAt: new Date(parts.now()).toISOString(),
      };
      if (!(await users.create(record, userhashes))) throw new CpnsError("ERR_USER_EXISTS");
      log.emit({ event: "user.created", userId });
      return c.json({ userId, createdAt: record.createdAt }, 201);
    });
  }

  async function list(c: Context<ServerEnv>) {
    return c.json({ users: await users.list() });
  }

  return { create, list };
}
