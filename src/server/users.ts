/**
 * Seed 5.x.1 prerequisite: CPNS Users, created through the admin API. The
 * server keeps only HA1 = H(userId:realm:password) per hash for its realm,
 * sealed at rest; the password is checked against the policy, hashed and
 * forgotten.
 *
 * Issue #9 item 6: the password reaches the server sealed to its admin
 * transport key (src/protocol/admin-transport.ts, public key at
 * /.well-known/cpns-admin-key), so it is never in clear on the wire; in clear
 * only over TLS; HA1 values not at all (they are password-equivalent, and the
 * server could not check them against the policy). Issue #9 item 7: the server
 * enforces the password policy itself, since any admin client can call it.
 *
 * Implements: SERVER-USER-HA1, SERVER-ADMIN-API, ADMIN-SEALED-SECRET, ADMIN-NO-PLAIN-SECRET, PASSWORD-POLICY
 */
import type { Context } from "hono";
import { utf8 } from "../crypto/bytes.ts";
import type { HashName } from "../crypto/hash.ts";
import { ALGORITHMS, computeHa1, computeUserhash } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import {
  type AdminTransportKey,
  adminKeyDocument,
  generateAdminTransportSecret,
  importAdminTransportKey,
  openAdminSecret,
} from "../protocol/admin-transport.ts";
import { readJson } from "../protocol/body.ts";
import { checkPassword, type StrengthEstimator } from "../protocol/password-policy.ts";
import type { UserCreated } from "../protocol/responses.ts";
import { type CreateUserBody, createUserSchema } from "../protocol/schemas.ts";
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
  const { users, entities, cipher, log, config, locks } = parts;

  if (config.adminTransportKey !== undefined && config.adminTransportKey.length !== 32) {
    throw new CpnsError("ERR_CONFIG", "adminTransportKey must be 32 bytes");
  }
  let transportKey: Promise<AdminTransportKey> | undefined;
  function adminTransportKey(): Promise<AdminTransportKey> {
    transportKey ??= importAdminTransportKey(
      config.adminTransportKey ?? generateAdminTransportSecret(config.crypto),
      config.crypto,
    );
    return transportKey;
  }

  let estimator: Promise<StrengthEstimator> | undefined;
  function strengthEstimator(): Promise<StrengthEstimator> {
    // Loaded on first use: a build that injects its own never needs the dictionaries.
    estimator ??= config.passwordStrength
      ? Promise.resolve(config.passwordStrength)
      : import("../protocol/password-strength.ts").then((module) => module.zxcvbnEstimator);
    return estimator;
  }

  /** The password of a create-user body, from whichever form the transport allows. */
  async function passwordOf(c: Context<ServerEnv>, body: CreateUserBody): Promise<string> {
    if (body.ha1 !== undefined) throw new CpnsError("ERR_ADMIN_HA1_RETIRED");
    if (body.password !== undefined) {
      // TLS terminated by this process shows as https:; behind a proxy, seal instead.
      if (new URL(c.req.url).protocol !== "https:") throw new CpnsError("ERR_ADMIN_PLAIN_SECRET");
      return body.password;
    }
    const opened = await openAdminSecret(
      await adminTransportKey(),
      body.sealed as NonNullable<CreateUserBody["sealed"]>,
      body.userId,
      { now: parts.now, crypto: config.crypto },
    );
    if (!opened.ok) {
      throw new CpnsError(
        opened.reason === "key"
          ? "ERR_ADMIN_ENVELOPE_KEY"
          : opened.reason === "expired"
            ? "ERR_ADMIN_ENVELOPE_EXPIRED"
            : "ERR_ADMIN_ENVELOPE_INVALID",
      );
    }
    return opened.password;
  }

  async function create(c: Context<ServerEnv>) {
    const body = await readJson(c, createUserSchema, config.bodyLimitBytes);
    const { userId } = body;
    const password = await passwordOf(c, body);
    const verdict = checkPassword(
      password,
      { userId, realm: config.realm },
      await strengthEstimator(),
    );
    if (!verdict.ok) throw new CpnsError("ERR_WEAK_PASSWORD", verdict.reason);
    return locks.run(`id:${userId}`, async () => {
      if (await entities.get(userId)) throw new CpnsError("ERR_ID_TAKEN");
      const ha1 = {} as Record<HashName, string>;
      const userhashes = [];
      for (const [hash, algorithm] of Object.entries(HASH_ALGORITHMS) as Array<
        [HashName, (typeof HASH_ALGORITHMS)[HashName]]
      >) {
        const value = computeHa1(algorithm, userId, config.realm, password);
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
      const created: UserCreated = { userId, createdAt: record.createdAt };
      return c.json(created, 201);
    });
  }

  async function list(c: Context<ServerEnv>) {
    return c.json({ users: await users.list() });
  }

  /** GET /.well-known/cpns-admin-key: the public half, anonymous; admins pin its `pin`. */
  async function adminKey(c: Context<ServerEnv>) {
    return c.json(adminKeyDocument(await adminTransportKey()));
  }

  return { create, list, adminKey };
}
