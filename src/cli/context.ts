/**
 * What every `cpns` command runs with: its standard streams, environment and
 * transport (injectable, so the program can also run in-process), the runtime
 * hook that serves HTTP for `cpns gateway serve`, and the two output forms: a
 * human line or table, or JSON with --json.
 *
 * Implements: CLI-FLOWS
 */
import type { ServerTrust } from "../channel/tls-pin.ts";
import type { FetchLike } from "../digest/index.ts";
import type { ServeOptions, Serving } from "../runtime/node-gateway.ts";
import type { CliEnv, GlobalOptions } from "./settings.ts";

export interface CliContext {
  env: CliEnv;
  /** Read only by the password prompt (src/runtime/node-password.ts). */
  stdin: NodeJS.ReadStream;
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

/** Prints `data` as JSON with --json, else the human form. */
export function print(
  ctx: CliContext,
  options: GlobalOptions,
  human: string | string[],
  data: unknown,
): void {
  if (options.json) ctx.stdout(`${JSON.stringify(data, null, 2)}\n`);
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
