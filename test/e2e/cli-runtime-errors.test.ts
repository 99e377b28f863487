/**
 * Issue #11, the CLI/runtime wall from the outside: the runtime no longer throws the CLI's
 * errors; it throws its own (ServeError, PasswordError) and src/runtime/node-cli.ts, the one
 * file that builds the CLI's context, turns them into the CLI's. The real `cpns` process must
 * still end with the same one-line failure, code and exit status: a port in use, a TLS key
 * file that is not there, and no password anywhere.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeKeyStore } from "../../src/runtime/node-keystore.ts";
import { runCli } from "./cli-helpers.ts";

const TIMEOUT = 120_000;
let root: string;
let keystore: string;
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "cpns-cli-wall-"));
  keystore = join(root, "keys");
  // A PN GW record as `cpns enroll` leaves it; serving fails before the server is ever asked.
  await new NodeKeyStore(keystore).put({
    entityId: "wall-gw",
    serverUrl: "http://127.0.0.1:9",
    userId: "alice",
    type: "PNGW",
    keyVersion: 1,
    eukey: "c2VjcmV0LWV1a2V5LW9mLXRoZS13YWxsLXRlc3QtMzI",
    machine: { value: "active" },
  });
  busy = createServer();
  busyPort = await new Promise<number>((resolve) =>
    busy.listen(0, "127.0.0.1", () => resolve((busy.address() as { port: number }).port)),
  );
});

afterAll(() => {
  busy?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "";

describe("[FLEET-SHELL-WALL] the runtime's own errors reach the user as the CLI's", () => {
  it(
    "[FLEET-SHELL-WALL][CLI-FLOWS] gateway serve on a port in use: ERR_LISTEN, exit 1",
    async () => {
      const result = await runCli(
        [
          "gateway",
          "serve",
          "--entity",
          "wall-gw",
          "--listen",
          `127.0.0.1:${busyPort}`,
          "--plain-http",
        ],
        { env: { CPNS_KEYSTORE: keystore }, timeoutMs: TIMEOUT },
      );
      expect(lastLine(result.stderr)).toMatch(
        /^cpns: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE \(ERR_LISTEN\)$/,
      );
      expect(result.code).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "[FLEET-SHELL-WALL][CLI-FLOWS] gateway serve with a TLS key file that is not there: ERR_CONFIG, exit 1",
    async () => {
      const result = await runCli(
        [
          "gateway",
          "serve",
          "--entity",
          "wall-gw",
          "--listen",
          "127.0.0.1:0",
          "--tls-cert",
          join(root, "missing-cert.pem"),
          "--tls-key",
          join(root, "missing-key.pem"),
        ],
        { env: { CPNS_KEYSTORE: keystore }, timeoutMs: TIMEOUT },
      );
      expect(lastLine(result.stderr)).toMatch(/^cpns: cannot read the TLS .*\(ERR_CONFIG\)$/);
      expect(result.code).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "[FLEET-SHELL-WALL][CLI-FLOWS] --password-stdin with nothing on it: ERR_NO_PASSWORD, exit 2, before anything is sent",
    async () => {
      const result = await runCli(
        ["entities", "--user", "alice", "--password-stdin", "--server", "http://127.0.0.1:9"],
        { stdin: "", timeoutMs: TIMEOUT },
      );
      expect(lastLine(result.stderr)).toBe(
        "cpns: empty password on standard input (ERR_NO_PASSWORD)",
      );
      expect(result.code).toBe(2);
    },
    TIMEOUT,
  );
});
