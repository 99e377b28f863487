/**
 * The one way tests create CPNS Users through the admin API (issue #9 item 6):
 * fetch the server's admin transport key, seal the password to it, POST
 * { userId, sealed }. Works over any fetch-like transport (app.fetch in
 * process, real HTTP on loopback). Tests that attack the transport build their
 * requests themselves; everything else goes through here.
 */
import { fromBase64url } from "../src/crypto/bytes.ts";
import {
  ADMIN_KEY_PATH,
  type AdminEnvelope,
  type AdminKeyDocument,
  sealAdminSecret,
} from "../src/protocol/admin-transport.ts";

export type Transport = (request: Request) => Response | Promise<Response>;

/** The server's admin transport public key, as served (tests trust their own server). */
export async function fetchAdminKey(transport: Transport, base: string): Promise<AdminKeyDocument> {
  const res = await transport(new Request(`${base}${ADMIN_KEY_PATH}`));
  if (res.status !== 200) throw new Error(`GET ${ADMIN_KEY_PATH}: ${res.status}`);
  return (await res.json()) as AdminKeyDocument;
}

/** A sealed create-user envelope for `userId` (now: the server's clock when a test controls it). */
export async function sealedFor(
  transport: Transport,
  base: string,
  userId: string,
  password: string,
  now?: () => number,
): Promise<AdminEnvelope> {
  const key = await fetchAdminKey(transport, base);
  return sealAdminSecret(fromBase64url(key.x), userId, password, now ? { now } : {});
}

/** POST /cpns/v1/admin/users with the password sealed; returns the response unread. */
export async function createUserSealed(options: {
  transport: Transport;
  base: string;
  adminToken: string;
  userId: string;
  password: string;
  now?: () => number;
}): Promise<Response> {
  const { transport, base, adminToken, userId, password, now } = options;
  const sealed = await sealedFor(transport, base, userId, password, now);
  return transport(
    new Request(`${base}/cpns/v1/admin/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ userId, sealed }),
    }),
  );
}
