/**
 * The `cpns` process (bin/cpns.mjs loads this through tsx): Node's OpenSSL
 * hashes for Digest, the CLI's context (the key store and the files beside
 * the server's data, the password prompt, the HTTP serving hook of `cpns
 * gateway serve`, TLS trust), the program on process.argv, and the exit
 * status. Issue #11 (the CLI/runtime wall): this is the one runtime file that
 * imports src/cli; it turns the runtime's own errors into the CLI's. The status is set, not
 * forced, so buffered output is never cut short.
 *
 * Implements: CLI-FLOWS, FLEET-SHELL-WALL
 * Implements: TLS-CLI-TRUST
 * Implements: FIRSTRUN-REOFFER
 * Implements: KEYSTORE-OUTSIDE-GIT
 */
import { createInterface } from "node:readline";
import type { CliContext } from "../cli/context.ts";
import { CliError } from "../cli/errors.ts";
import { run } from "../cli/program.ts";
import { installAeadBackend } from "../crypto/aead.ts";
import { installHashBackend } from "../crypto/hash.ts";
import type { FetchLike } from "../digest/index.ts";
import { nodeAead } from "./node-aead.ts";
import {
  readAdminKeyPinFile,
  readAdminTokenFile,
  readPemFile,
  readTlsPinFile,
} from "./node-cli-files.ts";
import { unignoredWorkTree } from "./node-git-guard.ts";
import { nodeHashes } from "./node-hashes.ts";
import { keystoreDir, NodeKeyStore } from "./node-keystore.ts";
import { PasswordError, readPassword } from "./node-password.ts";

/** The process's own streams and environment. */
function nodeContext(): CliContext {
  const io = {
    stdin: process.stdin,
    stderr: (text: string) => void process.stderr.write(text),
    env: process.env,
  };
  return {
    env: process.env,
    files: {
      keystoreDir: (flag, env) => keystoreDir(flag, env),
      openKeyStore: (dir) => new NodeKeyStore(dir),
      readAdminTokenFile,
      readTlsPinFile,
      readPemFile,
      readAdminKeyPinFile,
    },
    readPassword: async (userId, sources, confirm) => {
      try {
        return await readPassword(userId, sources, io, confirm);
      } catch (err) {
        if (err instanceof PasswordError) throw new CliError(err.code, err.message, err.exitCode);
        throw err;
      }
    },
    unignoredWorkTree,
    lines: (onLine) => {
      const input = createInterface({ input: process.stdin, terminal: false });
      input.on("line", onLine);
      return { close: () => input.close() };
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // Loaded on demand: node:http and the server adapter only for the command that serves.
    serve: async (options) => {
      const { serveUntilSignal, ServeError } = await import("./node-gateway.ts");
      try {
        return await serveUntilSignal(options);
      } catch (err) {
        if (err instanceof ServeError) throw new CliError(err.code, err.message);
        throw err;
      }
    },
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
installAeadBackend(nodeAead);

process.exitCode = await run(process.argv.slice(2), nodeContext());
