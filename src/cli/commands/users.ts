/**
 * `cpns user add <userId>` and `cpns user list` (SERVER-ADMIN-API, seed 5.x.1
 * prerequisite): CPNS Users through the admin API with the Bearer token. The
 * password never leaves the CLI: it computes HA1 = H(userId:realm:password)
 * for SHA-256, SHA-512-256 and MD5 with the server's realm (GET /cpns/v1) and
 * sends only those.
 */
import type { Command } from "commander";
import type { HashName } from "../../crypto/hash.ts";
import { ALGORITHMS, computeHa1 } from "../../digest/index.ts";
import { readPassword } from "../../runtime/node-password.ts";
import { type CliContext, print } from "../context.ts";
import { adminRequest, serverInfo, transport } from "../http.ts";
import { adminToken, checkId, type GlobalOptions, serverUrl } from "../settings.ts";

const HASHES: readonly HashName[] = ["SHA-256", "SHA-512-256", "MD5"];

interface AdminOptions extends GlobalOptions {
  adminToken?: string;
  passwordStdin?: boolean;
}

export function registerUserCommands(program: Command, ctx: CliContext): void {
  const user = program
    .command("user")
    .description("manage CPNS Users (admin API; needs the admin token)");

  user
    .command("add")
    .description("create a CPNS User; the password is asked for, and only its HA1 values are sent")
    .argument("<userId>", "the new User ID (1-64 of A-Z a-z 0-9 . _ @ -)")
    .option("--admin-token <token>", "admin Bearer token (prefer CPNS_ADMIN_TOKEN or the file)")
    .option("--password-stdin", "read the new user's password from the first line of stdin")
    .action(async (rawUserId: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<AdminOptions>();
      const userId = checkId("User ID", rawUserId);
      const token = adminToken(options.adminToken, ctx.env);
      const base = serverUrl(options, ctx.env);
      const fetchLike = transport(base, ctx.fetch);
      const { realm } = await serverInfo(base, fetchLike);
      const password = await readPassword(userId, options, ctx, true);
      const ha1 = Object.fromEntries(
        HASHES.map((hash) => [hash, computeHa1(ALGORITHMS[hash], userId, realm, password)]),
      );
      const created = await adminRequest<{ userId: string; createdAt: string }>(
        base,
        token,
        fetchLike,
        "POST",
        "/cpns/v1/admin/users",
        { userId, ha1 },
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
      const token = adminToken(options.adminToken, ctx.env);
      const base = serverUrl(options, ctx.env);
      const { users } = await adminRequest<{ users: string[] }>(
        base,
        token,
        transport(base, ctx.fetch),
        "GET",
        "/cpns/v1/admin/users",
        undefined,
        ctx.stderr,
      );
      print(ctx, options, users.length > 0 ? users : "no CPNS Users yet", { users });
    });
}
