/**
 * `cpns user add <userId>` and `cpns user list` (SERVER-ADMIN-API, seed 5.x.1
 * prerequisite): CPNS Users through the admin API with the Bearer token.
 *
 * Issue #9 item 6: the password is never in clear on the wire. `user add`
 * fetches the server's admin transport key (/.well-known/cpns-admin-key),
 * refuses it unless it matches the pin the admin holds (--admin-key-pin,
 * CPNS_ADMIN_KEY_PIN, or <data>/admin-key.pin beside the server), and sends the
 * password sealed to it; without a pin it sends the password in clear only to
 * an https: server. Issue #9 item 7: it checks the password policy first, the
 * same one the server enforces, so a weak password is refused before anything
 * is sent.
 *
 * Implements: CLI-FLOWS, ADMIN-KEY-PIN, PASSWORD-POLICY-CLI
 */
import type { Command } from "commander";
import { fromBase64url } from "../../crypto/bytes.ts";
import type { FetchLike } from "../../digest/index.ts";
import {
  ADMIN_KEY_PATH,
  type AdminKeyDocument,
  adminKeyPin as pinOf,
  sealAdminSecret,
} from "../../protocol/admin-transport.ts";
import { checkPassword } from "../../protocol/password-policy.ts";
import { askPassword, type CliContext, print } from "../context.ts";
import { CliError } from "../errors.ts";
import { adminRequest, problemOf, serverInfo, serverTransport } from "../http.ts";
import { adminKeyPin, adminToken, checkId, type GlobalOptions, serverUrl } from "../settings.ts";

interface AdminOptions extends GlobalOptions {
  adminToken?: string;
  adminKeyPin?: string;
  passwordStdin?: boolean;
}

/**
 * The server's admin transport public key, if and only if it matches the pin.
 * The pin is recomputed from the key itself: the document's own `pin` member
 * is what a man in the middle would rewrite first.
 */
async function pinnedAdminKey(
  base: string,
  pin: string,
  fetchLike: FetchLike,
): Promise<Uint8Array> {
  const res = await fetchLike(new Request(`${base}${ADMIN_KEY_PATH}`));
  if (!res.ok) throw await problemOf(res, `GET ${base}${ADMIN_KEY_PATH}`);
  let publicKey: Uint8Array | undefined;
  try {
    const doc = (await res.json()) as Partial<AdminKeyDocument>;
    if (doc.kty === "OKP" && doc.crv === "X25519" && typeof doc.x === "string") {
      publicKey = fromBase64url(doc.x);
    }
  } catch {
    // Not a key document: refused below.
  }
  if (publicKey?.length !== 32) {
    throw new CliError("ERR_SERVER_RESPONSE", `${base}${ADMIN_KEY_PATH} is not an X25519 key`);
  }
  if ((await pinOf(publicKey)) !== pin) {
    throw new CliError(
      "ERR_ADMIN_KEY_PIN_MISMATCH",
      `the admin transport key of ${base} does not match the pin ${pin}: someone may be in the middle; nothing was sent`,
    );
  }
  return publicKey;
}

export function registerUserCommands(program: Command, ctx: CliContext): void {
  const user = program
    .command("user")
    .description("manage CPNS Users (admin API; needs the admin token)");

  user
    .command("add")
    .description(
      "create a CPNS User; the password is asked for, checked against the password policy, and sent sealed to the server's pinned admin transport key",
    )
    .argument("<userId>", "the new User ID (1-64 of A-Z a-z 0-9 . _ @ -)")
    .option("--admin-token <token>", "admin Bearer token (prefer CPNS_ADMIN_TOKEN or the file)")
    .option(
      "--admin-key-pin <pin>",
      "pin of the server's admin transport key, as `npm start` prints it (or CPNS_ADMIN_KEY_PIN, or <data>/admin-key.pin)",
    )
    .option("--password-stdin", "read the new user's password from the first line of stdin")
    .action(async (rawUserId: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<AdminOptions>();
      const userId = checkId("User ID", rawUserId);
      const token = adminToken(options.adminToken, ctx);
      const base = serverUrl(options, ctx.env);
      const pin = adminKeyPin(options.adminKeyPin, ctx);
      if (!pin && new URL(base).protocol !== "https:") {
        throw new CliError(
          "ERR_NO_ADMIN_KEY_PIN",
          `no admin key pin: over plain HTTP the password is sealed to the server's pinned key; pass --admin-key-pin or set CPNS_ADMIN_KEY_PIN (npm start prints it), or run beside the server's data folder`,
        );
      }
      const fetchLike = serverTransport(ctx, options, base);
      const { realm } = await serverInfo(base, fetchLike);
      // The key is checked before the password is even asked for.
      const publicKey = pin ? await pinnedAdminKey(base, pin, fetchLike) : undefined;
      const password = await askPassword(ctx, userId, options, true);
      // Loaded here only: the dictionaries would slow every other command's start.
      const { zxcvbnEstimator } = await import("../../protocol/password-strength.ts");
      const verdict = checkPassword(password, { userId, realm }, zxcvbnEstimator);
      if (!verdict.ok) throw new CliError("ERR_WEAK_PASSWORD", verdict.reason);
      const body = publicKey
        ? { userId, sealed: await sealAdminSecret(publicKey, userId, password) }
        : { userId, password };
      const created = await adminRequest<{ userId: string; createdAt: string }>(
        base,
        token,
        fetchLike,
        "POST",
        "/cpns/v1/admin/users",
        body,
        ctx.stderr,
      );
      print(ctx, options, `created CPNS User ${created.userId} (realm "${realm}")`, {
        ...created,
        realm,
      });
    });

  user
    .command("list")
    .description("list the CPNS Users")
    .option("--admin-token <token>", "admin Bearer token (prefer CPNS_ADMIN_TOKEN or the file)")
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<AdminOptions>();
      const token = adminToken(options.adminToken, ctx);
      const base = serverUrl(options, ctx.env);
      const { users } = await adminRequest<{ users: string[] }>(
        base,
        token,
        serverTransport(ctx, options, base),
        "GET",
        "/cpns/v1/admin/users",
        undefined,
        ctx.stderr,
      );
      print(ctx, options, users.length > 0 ? users : "no CPNS Users yet", { users });
    });
}
