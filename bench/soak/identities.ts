/**
 * Issue #9 "Reliability figures": the ONE place the soak assumes things about
 * user creation and the failure limiter, so they can be adapted in one edit
 * when those change (user creation: admin API body; limiter: src/server/rate-limit.ts).
 *
 * - Users are created through the admin API, POST /cpns/v1/admin/users with
 *   the Bearer token and { userId, sealed }: the password sealed to the
 *   server's admin transport key (issue #9 item 6; the soak trusts the key its
 *   own server serves), with passwords long and random enough for the policy.
 * - The server counts failed Digest attempts per username and per client
 *   address (default 10 in 300 s, then 429). The fuzzer sends failures on
 *   purpose, so it spreads its connections over many loopback addresses
 *   (127.0.0.0/8 all reach the server on Linux) and sends a genuine request for
 *   its identity after a few failures (a success clears the username's count).
 *   The well-behaved load never fails and needs neither, but it keeps each
 *   user's enrollments in flight under the budget (OWNER_IN_FLIGHT): all its
 *   clients share one address, and reserved attempts count until verified.
 */
import { randomBytes } from "node:crypto";
import { fromBase64url } from "../../src/crypto/bytes.ts";
import {
  ADMIN_KEY_PATH,
  type AdminKeyDocument,
  sealAdminSecret,
} from "../../src/protocol/admin-transport.ts";

/** Failures the server tolerates per address and per username before 429 (default 10). */
export const LIMITER_MAX_FAILURES = 10;
/**
 * Genuine requests of one CPNS User the well-behaved load keeps in flight at
 * once from its one address: the limiter reserves a failure for each attempt
 * before verifying it, so a burst past the free budget is 429 even when every
 * answer is right (LIMIT-RESERVE). Half the budget leaves room.
 */
export const OWNER_IN_FLIGHT = LIMITER_MAX_FAILURES / 2;
/**
 * A fuzz worker moves to a fresh source address of its own after this many
 * requests (at a round boundary). Its own identity is proven from the address
 * by the round's first (genuine) request, so only the names the mutations
 * invent are charged to the address budget (10 x LIMITER_MAX_FAILURES free):
 * 48 and one round's overshoot stay under it. Fewer addresses, fewer new
 * connections: keep-alive sockets are pooled per source address.
 */
export const REQUESTS_PER_ADDRESS = 48;
/** Mutated requests a fuzz identity sends between two genuine ones. */
export const FAILURES_PER_SUCCESS = 4;

export function strongPassword(): string {
  return `Soak-${randomBytes(18).toString("base64url")}-9`;
}

/** Creates a CPNS User; throws with the server's answer when it is not 201. */
export async function createUser(
  serverUrl: string,
  adminToken: string,
  userId: string,
  password: string,
): Promise<void> {
  const key = (await (await fetch(`${serverUrl}${ADMIN_KEY_PATH}`)).json()) as AdminKeyDocument;
  const sealed = await sealAdminSecret(fromBase64url(key.x), userId, password);
  const res = await fetch(`${serverUrl}/cpns/v1/admin/users`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ userId, sealed }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`create user ${userId}: ${res.status} ${text}`);
}

/**
 * The n-th source address of the fuzzer: 127.1.0.1 upwards (127.0.0.1 is left
 * to the well-behaved clients), 16 million of them before wrapping.
 */
export function sourceAddress(n: number): string {
  const host = 1 + (n % 254);
  const net = Math.floor(n / 254) % (254 * 256);
  return `127.${1 + Math.floor(net / 256)}.${net % 256}.${host}`;
}
