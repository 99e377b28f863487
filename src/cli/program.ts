/**
 * The `cpns` command line (CLI-FLOWS): a commander program with the options
 * every command shares and one subcommand per flow (users, enroll / rotate,
 * whoami, entities, revoke, keys; and for seed 5.x.2's one-time keys: gateway
 * serve, otk inbox, peer connect). Commander's own errors are reported as
 * `cpns: <message> (ERR_USAGE)`; `run` turns any outcome into an exit status.
 *
 * Implements: CLI-FLOWS, FIRSTRUN-JSON-ERRORS
 */
import { Command, CommanderError } from "commander";
import { registerEnrollCommands } from "./commands/enroll.ts";
import { registerEntityCommands } from "./commands/entities.ts";
import { registerGatewayCommands } from "./commands/gateway.ts";
import { registerPeerCommands } from "./commands/peer.ts";
import { registerUserCommands } from "./commands/users.ts";
import { registerWhoamiCommand } from "./commands/whoami.ts";
import type { CliContext } from "./context.ts";
import { describeError, formatFailure, wantsJson } from "./errors.ts";
import { DEFAULT_SERVER } from "./settings.ts";

const EPILOG = `
Environment:
  CPNS_SERVER        server URL (default ${DEFAULT_SERVER})
  CPNS_KEYSTORE      device key store folder (default ./.cpns-device)
  CPNS_ADMIN_TOKEN   admin token (else <CPNS_DATA_DIR or ./.cpns-data>/admin.token)
  CPNS_PASSWORD      the CPNS User's password (else --password-stdin or a prompt)
  CPNS_CA_FILE       CA of an https server (PEM), like --cacert
  CPNS_TLS_PIN       SPKI pin of an https server (sha256//...), like --pin; without
                     either, <CPNS_DATA_DIR or ./.cpns-data>/tls.pin, else the system store

Example:
  cpns user add alice
  cpns enroll --user alice --entity gw-1 --type PNGW
  cpns whoami --entity gw-1

Peers (seed 5.x.2: one-time keys, mutual authentication, the relay):
  cpns enroll --user alice --entity pne-1 --type PNE
  cpns gateway serve --entity gw-1 --offer pne-1      # terminal 1: until Ctrl-C
  cpns otk inbox --entity pne-1                       # terminal 2
  cpns peer connect --entity pne-1 --message hello --via-gateway whoami`;

export function createProgram(ctx: CliContext, json = false): Command {
  const program = new Command("cpns")
    .description(
      "OMA CPNS security: CPNS Users, EUKeys for PNEs and PN GWs, entity authentication, one-time keys and peer sessions",
    )
    .option("--server <url>", "CPNS Server URL (env CPNS_SERVER)")
    .option("--keystore <dir>", "device key store folder (env CPNS_KEYSTORE)")
    .option("--json", "print JSON")
    .option(
      "--cacert <file>",
      "trust the https server by this CA certificate (PEM; env CPNS_CA_FILE)",
    )
    .option(
      "--pin <sha256//base64>",
      "trust the https server by its key's SPKI pin (RFC 7469; env CPNS_TLS_PIN)",
    )
    .configureHelp({ showGlobalOptions: true })
    .addHelpText("after", EPILOG)
    // A script reading --json output gets one JSON object, without the hint line.
    .showHelpAfterError(json ? false : "(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout(text),
      writeErr: (text) => ctx.stderr(text),
      outputError: (text, write) =>
        write(
          `${formatFailure({ message: text.replace(/^error: /, "").trimEnd(), code: "ERR_USAGE", exitCode: 2 }, json)}\n`,
        ),
    });
  registerUserCommands(program, ctx);
  registerEnrollCommands(program, ctx);
  registerWhoamiCommand(program, ctx);
  registerEntityCommands(program, ctx);
  registerGatewayCommands(program, ctx);
  registerPeerCommands(program, ctx);
  return program;
}

/** Runs the program on `argv` (user arguments only) and returns the exit status. */
export async function run(argv: readonly string[], ctx: CliContext): Promise<number> {
  const json = wantsJson(argv);
  const program = createProgram(ctx, json);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; anything else commander refused is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    const failure = describeError(err);
    ctx.stderr(`${formatFailure(failure, json)}\n`);
    return failure.exitCode;
  }
}
