/**
 * `cpns whoami --entity <id>` (seed 5.x.2, AGENT-REQUIRE-RSPAUTH): the entity
 * authenticates to the CPNS Server with Digest and its EUKey through
 * EntityAgent, and the server must prove it knows the key (rspauth). Prints
 * what the server says the entity is. Fails with the problem code when the key
 * was rotated or revoked, when the server refuses (a 429 with its Retry-After),
 * or when the server cannot prove itself. The key is kept in every case: a 401
 * or a refusal proves nothing about who sent it (issue #13 items 1 and 2).
 *
 * Implements: CLI-FLOWS, FIRSTRUN-REFUSALS
 */
import type { Command } from "commander";
import { AgentError } from "../../agent/agent.ts";
import { digestExchangeOf } from "../../digest/index.ts";
import { CpnsError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { openDevice } from "../device.ts";
import { CliError } from "../errors.ts";
import { problemOf } from "../http.ts";
import { checkId, type GlobalOptions } from "../settings.ts";

interface WhoamiOptions extends GlobalOptions {
  entity: string;
}

async function whoami(ctx: CliContext, options: WhoamiOptions): Promise<void> {
  const entityId = checkId("Entity ID", options.entity);
  const { record, base, agent } = await openDevice(ctx, options, entityId);

  let res: Response;
  try {
    res = await agent.fetchAsEntity(entityId, "/cpns/v1/whoami");
  } catch (err) {
    if (err instanceof AgentError && err.code === "ERR_DIGEST_UNAUTHORIZED") {
      throw new CliError(
        err.code,
        `${base} refused key version ${record.keyVersion} of ${entityId} (rotated elsewhere or revoked?); the key is kept in the key store, since a refusal proves nothing about who sent it`,
      );
    }
    throw err;
  }
  // An answer to no Digest exchange at all proves nothing either.
  if (!digestExchangeOf(res)) {
    await res.body?.cancel();
    throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED", "the answer was not authenticated");
  }
  if (!res.ok) throw await problemOf(res, `whoami ${entityId}`);
  const body = (await res.json()) as Record<string, unknown>;
  ctx.stdout(`${JSON.stringify(body, null, 2)}\n`);
}

export function registerWhoamiCommand(program: Command, ctx: CliContext): void {
  program
    .command("whoami")
    .description("authenticate as an entity with its EUKey and print who the server says it is")
    .requiredOption("--entity <entityId>", "the Entity ID whose key this device holds")
    .action((_options: unknown, command: Command) =>
      whoami(ctx, command.optsWithGlobals<WhoamiOptions>()),
    );
}
