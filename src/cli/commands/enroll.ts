/**
 * `cpns enroll` and `cpns rotate` (seed 5.x.1, CLI-FLOWS): the owner's User ID
 * and password obtain this entity's EUKey through EntityAgent.enroll; the key
 * arrives sealed, is opened here and kept in the device key store. Enrolling
 * an entity that already has a key rotates it: the new version replaces the
 * old, which stops authenticating. `rotate` is enroll with the type already
 * known (from the key store, else from the server).
 *
 * Implements: CLI-FLOWS, KEYSTORE-OUTSIDE-GIT
 * Implements: TLSDECL-ENROLL
 */
import { type Command, InvalidArgumentError } from "commander";
import { AgentError, EntityAgent } from "../../agent/agent.ts";
import type { DeviceRecord } from "../../agent/keystore.ts";
import type { EntityView } from "../../protocol/schemas.ts";
import { askPassword, type CliContext, print } from "../context.ts";
import { CliError, usageError } from "../errors.ts";
import { serverTransport, userSession } from "../http.ts";
import {
  checkId,
  DEFAULT_SERVER,
  explicitServer,
  type GlobalOptions,
  keystorePath,
} from "../settings.ts";

type EntityType = "PNE" | "PNGW";

interface EnrollOptions extends GlobalOptions {
  user: string;
  entity: string;
  type?: EntityType;
  passwordStdin?: boolean;
  /** Issue #10 (tls-declare): declare TLS support (default: when the server URL is https:). */
  tls?: boolean;
}

function parseType(value: string): EntityType {
  const type = value.toUpperCase();
  if (type !== "PNE" && type !== "PNGW") throw new InvalidArgumentError("use PNE or PNGW");
  return type;
}

/** Explains the refusals a user can meet, in the terms of this command. */
function explain(err: unknown, userId: string, entityId: string): unknown {
  if (!(err instanceof AgentError)) return err;
  if (err.code === "ERR_DIGEST_UNAUTHORIZED") {
    return new CliError(
      err.code,
      `the server refused the credentials of ${userId} (wrong User ID or password)`,
    );
  }
  const hint =
    err.code === "ERR_ENTITY_STATE" ? " (a revoked Entity ID can never be enrolled again)" : "";
  return new CliError(err.code, `enroll ${entityId}: ${err.message}${hint}`);
}

async function enroll(ctx: CliContext, options: EnrollOptions, rotate: boolean): Promise<void> {
  const userId = checkId("User ID", options.user);
  const entityId = checkId("Entity ID", options.entity);
  const store = ctx.files.openKeyStore(keystorePath(options, ctx));
  const previous = await store.get(entityId);
  // A record left by a failed first enrollment has no owner: its server and type mean nothing.
  const known = previous?.userId ? previous : undefined;
  const base = explicitServer(options, ctx.env) ?? (known?.serverUrl || DEFAULT_SERVER);
  const fetchLike = serverTransport(ctx, options, base);
  let type = options.type ?? known?.type;
  if (!type && !rotate) {
    throw usageError(
      `--type PNE|PNGW is required: ${entityId} is not in the key store ${store.dir}`,
    );
  }
  const password = await askPassword(ctx, userId, options);
  if (!type) {
    // rotate on a device without the key: ask the server what this entity is.
    const view = await userSession(
      base,
      userId,
      password,
      fetchLike,
    )<EntityView>("GET", `/cpns/v1/entities/${encodeURIComponent(entityId)}`);
    type = view.type;
  }

  const agent = new EntityAgent({ serverUrl: base, store, fetch: fetchLike });
  let record: DeviceRecord;
  try {
    // Issue #10 (tls-declare): a device that reaches the server over https: supports TLS and
    // says so, so the server will refuse it plain HTTP; --tls / --no-tls say it explicitly.
    // A rotation says nothing unless asked: the server keeps an earlier declaration.
    const tls = options.tls ?? (!rotate && new URL(base).protocol === "https:");
    record = await agent.enroll({ userId, password, entityId, type, ...(tls ? { tls } : {}) });
  } catch (err) {
    throw explain(err, userId, entityId);
  }
  const rotated = record.keyVersion > 1;
  const file = store.fileOf(entityId);
  const workTree = ctx.unignoredWorkTree?.(store.dir);
  if (workTree) {
    ctx.stderr(
      `cpns: warning: the key store ${store.dir} is inside the git work tree ${workTree}, which does not ignore it: the EUKey could be committed; move it (--keystore, CPNS_KEYSTORE) or add it to .gitignore\n`,
    );
  }
  const human = rotated
    ? `rotated ${entityId} (${record.type}) of ${userId}: key version ${record.keyVersion} (version ${record.keyVersion - 1} no longer authenticates); key kept in ${file}`
    : `enrolled ${entityId} (${record.type}) for ${userId}: key version ${record.keyVersion}; key kept in ${file}`;
  print(ctx, options, human, {
    entityId,
    userId,
    type: record.type,
    keyVersion: record.keyVersion,
    rotated,
    server: base,
    keyFile: file,
  });
}

export function registerEnrollCommands(program: Command, ctx: CliContext): void {
  const common = (command: Command) =>
    command
      .requiredOption("--user <userId>", "the owner's User ID")
      .requiredOption("--entity <entityId>", "the Entity ID of this PNE or PN GW")
      .option("--password-stdin", "read the owner's password from the first line of stdin");

  common(
    program
      .command("enroll")
      .description(
        "obtain this entity's EUKey with the owner's credentials (again: rotate the key)",
      ),
  )
    .option("--type <type>", "PNE or PNGW (default: the type this key store knows)", parseType)
    .option(
      "--tls",
      "declare that this entity supports TLS (default when the server URL is https:)",
    )
    .option("--no-tls", "do not declare TLS support, even over https:")
    .action((_options: unknown, command: Command) =>
      enroll(ctx, command.optsWithGlobals<EnrollOptions>(), false),
    );

  common(
    program
      .command("rotate")
      .description("replace this entity's EUKey with a new version (enroll with its known type)"),
  ).action((_options: unknown, command: Command) =>
    enroll(ctx, command.optsWithGlobals<EnrollOptions>(), true),
  );
}
