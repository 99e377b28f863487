/**
 * The `cpns` process (bin/cpns.mjs loads this through tsx): Node's OpenSSL
 * hashes for Digest, the HTTP serving hook of `cpns gateway serve`, the
 * program on process.argv, and the exit status. The status is set, not
 * forced, so buffered output is never cut short.
 *
 * Implements: CLI-FLOWS
 * Implements: TLS-CLI-TRUST
 * Implements: FIRSTRUN-REOFFER
 * Implements: KEYSTORE-OUTSIDE-GIT
 */
import { createInterface } from "node:readline";
import type { CliContext } from "../cli/context.ts";
import { run } from "../cli/program.ts";
import { installHashBackend } from "../crypto/hash.ts";
import type { FetchLike } from "../digest/index.ts";
import { unignoredWorkTree } from "./node-git-guard.ts";
import { nodeHashes } from "./node-hashes.ts";

/** The process's own streams and environment. */
function nodeContext(): CliContext {
  return {
    env: process.env,
    stdin: process.stdin,
    unignoredWorkTree,
    lines: (onLine) => {
      const input = createInterface({ input: process.stdin, terminal: false });
      input.on("line", onLine);
      return { close: () => input.close() };
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // Loaded on demand: node:http and the server adapter only for the command that serves.
    serve: async (options) => (await import("./node-gateway.ts")).serveUntilSignal(options),
    // Loaded on demand too: undici only when a CA file or pin is in play.
    trustedFetch: (trust) => {
      let trusted: Promise<FetchLike> | undefined;
      return async (request) => {
        trusted ??= import("./node-tls-trust.ts").then((m) => m.createTrustedFetch(trust));
        return (await trusted)(request);
      };
    },
  };
}

installHashBackend(nodeHashes);

process.exitCode = await run(process.argv.slice(2), nodeContext());
