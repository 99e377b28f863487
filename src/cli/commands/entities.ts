/**
 * `cpns entities --user`, `cpns revoke --user --entity` (seed 5.x.3,
 * SERVER-OWNERSHIP) and `cpns keys`: a CPNS User lists its entities and
 * revokes one with its own Digest credentials, requiring the server's rspauth;
 * `keys` shows what this device's key store holds (never the keys).
 *
 * Implements: CLI-FLOWS
 */
import type { Command } from "commander";
import type { EntityView } from "../../protocol/schemas.ts";
import { askPassword, type CliContext, print, table } from "../context.ts";
import { serverTransport, userSession } from "../http.ts";
import { checkId, type GlobalOptions, keystorePath, serverUrl } from "../settings.ts";

interface UserOptions extends GlobalOptions {
  user: string;
  entity?: string;
  passwordStdin?: boolean;
}

async function session(ctx: CliContext, options: UserOptions) {
  const userId = checkId("User ID", options.user);
  const base = serverUrl(options, ctx.env);
  const password = await askPassword(ctx, userId, options);
  return {
    userId,
    request: userSession(base, userId, password, serverTransport(ctx, options, base)),
  };
}

async function entities(ctx: CliContext, options: UserOptions): Promise<void> {
  const { userId, request } = await session(ctx, options);
  const { entities } = await request<{ entities: EntityView[] }>("GET", "/cpns/v1/entities");
  const human =
    entities.length === 0
      ? `${userId} has no entities`
      : table(
          ["ENTITY", "TYPE", "STATE", "KEY", "UPDATED"],
          entities.map((e) => [e.entityId, e.type, e.state, String(e.keyVersion), e.updatedAt]),
        );
  print(ctx, options, human, { userId, entities });
}

async function revoke(ctx: CliContext, options: UserOptions): Promise<void> {
  const entityId = checkId("Entity ID", options.entity ?? "");
  const { userId, request } = await session(ctx, options);
  const view = await request<EntityView>(
    "DELETE",
    `/cpns/v1/entities/${encodeURIComponent(entityId)}`,
  );
  print(
    ctx,
    options,
    `revoked ${view.entityId} (${view.type}) of ${userId}: key version ${view.keyVersion} no longer authenticates`,
    view,
  );
}

async function keys(ctx: CliContext, options: GlobalOptions): Promise<void> {
  const store = ctx.files.openKeyStore(keystorePath(options, ctx));
  // A failed first enrollment leaves a record with no owner and no key: nothing to show.
  const held = (await store.list()).filter((record) => record.userId !== "" || record.eukey !== "");
  const records = held.map(({ eukey, ...rest }) => ({
    ...rest,
    machine: rest.machine.value,
    holdsKey: eukey !== "",
  }));
  const human =
    records.length === 0
      ? `no entities in ${store.dir}`
      : table(
          ["ENTITY", "TYPE", "OWNER", "KEY", "STATE", "SERVER"],
          records.map((r) => [
            r.entityId,
            r.type,
            r.userId,
            r.holdsKey ? String(r.keyVersion) : "-",
            r.machine,
            r.serverUrl,
          ]),
        );
  print(ctx, options, human, { keystore: store.dir, entities: records });
}

export function registerEntityCommands(program: Command, ctx: CliContext): void {
  program
    .command("entities")
    .description("list a CPNS User's entities with their state and key version")
    .requiredOption("--user <userId>", "the owner's User ID")
    .option("--password-stdin", "read the owner's password from the first line of stdin")
    .action((_options: unknown, command: Command) =>
      entities(ctx, command.optsWithGlobals<UserOptions>()),
    );

  program
    .command("revoke")
    .description("revoke an entity's EUKey for good (the Entity ID is never reused)")
    .requiredOption("--user <userId>", "the owner's User ID")
    .requiredOption("--entity <entityId>", "the Entity ID to revoke")
    .option("--password-stdin", "read the owner's password from the first line of stdin")
    .action((_options: unknown, command: Command) =>
      revoke(ctx, command.optsWithGlobals<UserOptions>()),
    );

  program
    .command("keys")
    .description("list the entities this device's key store holds (never the keys)")
    .action((_options: unknown, command: Command) =>
      keys(ctx, command.optsWithGlobals<GlobalOptions>()),
    );
}
