/**
 * How the `cpns` command fails: every error becomes one line
 * `cpns: <message> (<code>)` on stderr and exit status 1 (2 for usage errors,
 * 130 for an interrupted prompt).
 * Codes are the server's problem codes (src/errors.ts), the agent's, or the
 * CLI's own below. Every secret the CLI handles (password, EUKey) is
 * remembered here and blanked out of anything printed, as a second line of
 * defence behind messages that never contain them in the first place.
 *
 * Implements: CLI-FLOWS, FIRSTRUN-JSON-ERRORS
 */
import { AgentError } from "../agent/agent.ts";
import { KeyStoreError } from "../agent/keystore.ts";
import { DigestError } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";

export type CliCode =
  | "ERR_USAGE"
  | "ERR_NO_PASSWORD"
  | "ERR_INTERRUPTED"
  | "ERR_NO_ADMIN_TOKEN"
  | "ERR_NO_ADMIN_KEY_PIN"
  | "ERR_ADMIN_KEY_PIN_MISMATCH"
  | "ERR_SERVER_UNREACHABLE"
  | "ERR_NOT_ENROLLED"
  | "ERR_SERVER_RESPONSE"
  | "ERR_NO_OTK"
  | "ERR_NO_GATEWAY_ADDRESS"
  | "ERR_GATEWAY_UNREACHABLE"
  | "ERR_LISTEN";

export class CliError extends Error {
  constructor(
    readonly code: CliCode | string,
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string) => new CliError("ERR_USAGE", message, 2);

const secrets = new Set<string>();

/** Registers a value that must never be printed. */
export function rememberSecret(value: string): void {
  if (value.length >= 4) secrets.add(value);
}

/** The text with every remembered secret replaced. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out;
}

export interface Failure {
  message: string;
  code: string;
  exitCode: number;
}

export function describeError(err: unknown): Failure {
  if (err instanceof CliError) {
    return { message: err.message, code: err.code, exitCode: err.exitCode };
  }
  if (err instanceof AgentError || err instanceof CpnsError || err instanceof KeyStoreError) {
    return { message: err.message, code: err.code, exitCode: 1 };
  }
  if (err instanceof DigestError) {
    return { message: err.message, code: err.code, exitCode: 1 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: `unexpected error: ${message}`, code: "ERR_INTERNAL", exitCode: 1 };
}

/**
 * The one line printed for a failure: `cpns: <message> (<code>)`, or with
 * --json `{"error":{"code":...,"message":...}}` so a script reads errors the
 * way it reads answers (issue #13 item 5).
 */
export function formatFailure(failure: Failure, json = false): string {
  if (json) {
    return redact(JSON.stringify({ error: { code: failure.code, message: failure.message } }));
  }
  return redact(`cpns: ${failure.message} (${failure.code})`);
}

/** Whether the user asked for JSON: `--json` among the options (not after `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}
