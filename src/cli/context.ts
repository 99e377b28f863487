/**
 * What every `cpns` command runs with: its standard streams, environment and
 * transport (injectable, so the program can also run in-process), the runtime
 * hook that serves HTTP for `cpns gateway serve`, and the two output forms: a
 * human line or table, or JSON with --json.
 *
 * Issue #11 (the CLI/runtime wall): everything the commands need from the
 * runtime comes in through this context (files and key store, the password
 * prompt, serving, TLS trust), built by src/runtime/node-cli.ts; nothing under
 * src/cli imports src/runtime (test/unit/walls.test.ts).
 *
 * Implements: CLI-FLOWS, FLEET-SHELL-WALL, FIRSTRUN-ISO-TIMES
 */
import type { ServerTrust } from "../channel/tls-pin.ts";
import type { FetchLike } from "../digest/index.ts";
import { rememberSecret } from "./errors.ts";
import type { CliEnv, CliFiles, GlobalOptions } from "./settings.ts";

/** What `cpns gateway serve` asks the runtime to serve (src/runtime/node-gateway.ts on Node). */
export interface ServeOptions {
  hostname: string;
  /** 0: the kernel picks a free port (the answer says which). */
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
  /** Serve HTTPS with this certificate source; without it, plain HTTP. */
  tls?: {
    /** Folder of the generated certificate, its key and tls.pin. */
    folder: string;
    commonName: string;
    hosts: readonly string[];
    /** The operator's own certificate and key (both or neither). */
    certFile?: string;
    keyFile?: string;
  };
}

export interface Serving {
  /** The bound address as a URL (the real port when 0 was asked). */
  url: string;
  port: number;
  /** The certificate served; undefined for plain HTTP. */
  certificate?: {
    pin: string;
    pinFile: string;
    certFile: string;
    origin: "operator" | "generated" | "kept";
  };
  /** Resolves with the first SIGINT or SIGTERM received after listening started. */
  stopped: Promise<string>;
  close(): Promise<void>;
}

export interface CliContext {
  env: CliEnv;
  /** The key store and the files beside the server's data (src/runtime/node-cli.ts). */
  files: CliFiles;
  /**
   * The password of `userId`: --password-stdin, else CPNS_PASSWORD, else a
   * hidden prompt (twice with `confirm`); src/runtime/node-password.ts on Node.
   * Call it through askPassword, which keeps the answer out of every message.
   */
  readPassword: (
    userId: string,
    sources: { passwordStdin?: boolean },
    confirm: boolean,
  ) => Promise<string>;
  /**
   * Calls `onLine` with each line typed on standard input until `close`: the
   * commands of a running `cpns gateway serve` (issue #13 item 4). A context
   * without it takes no commands.
   */
  lines?: (onLine: (line: string) => void) => { close(): void };
  /**
   * The git work tree that would track files of `dir` (inside it, not ignored),
   * if any: `cpns enroll` warns before an EUKey lands in a commit
   * (src/runtime/node-git-guard.ts on Node; issue #13 item 3).
   */
  unignoredWorkTree?: (dir: string) => string | undefined;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The transport to the server; default the global fetch. */
  fetch?: FetchLike;
  /**
   * Serves a fetch handler until SIGINT/SIGTERM (src/runtime/node-gateway.ts on
   * Node). Only `cpns gateway serve` needs it; a context without it cannot serve.
   */
  serve?: (options: ServeOptions) => Promise<Serving>;
  /**
   * A fetch that trusts an https server only by CA and/or SPKI pin, checked on
   * the handshake (src/runtime/node-tls-trust.ts on Node; issue #10). Without
   * it, --cacert and --pin cannot be honoured and the CLI says so.
   */
  trustedFetch?: (trust: ServerTrust) => FetchLike;
}

/** A CPNS User's password from the runtime's sources, registered as a secret before anyone sees it. */
export async function askPassword(
  ctx: CliContext,
  userId: string,
  sources: { passwordStdin?: boolean },
  confirm = false,
): Promise<string> {
  const password = await ctx.readPassword(userId, sources, confirm);
  rememberSecret(password);
  return password;
}

/** Prints `data` as JSON with --json, else the human form. */
/**
 * JSON as the CLI prints it (issue #13 item 5): times in ISO 8601, as in the
 * text output. Every numeric field named `...At` in the project's data is epoch
 * seconds (expiresAt, sessionExpiresAt, offerExpiresAt); it is printed as an
 * ISO 8601 UTC string. `indent` 2 for a document, none for one event per line.
 */
export function cliJson(data: unknown, indent?: number): string {
  return JSON.stringify(
    data,
    (key, value) =>
      typeof value === "number" && /At$/.test(key) && Number.isFinite(value)
        ? new Date(value * 1000).toISOString()
        : value,
    indent,
  );
}

export function print(
  ctx: CliContext,
  options: GlobalOptions,
  human: string | string[],
  data: unknown,
): void {
  if (options.json) ctx.stdout(`${cliJson(data, 2)}\n`);
  else {
    const lines = Array.isArray(human) ? human : [human];
    if (lines.length > 0) ctx.stdout(`${lines.join("\n")}\n`);
  }
}

/** Left-aligned columns separated by two spaces, with a header row. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ");
  return [line(header), ...rows.map(line)];
}
