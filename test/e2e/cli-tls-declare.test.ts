// Issue #10 (tls-declare) in the `cpns` CLI: `cpns enroll` declares TLS when the server URL is
// https: (or with --tls), and the server then refuses that entity plain HTTP. The CLI runs as a
// child process (node bin/cpns.mjs) against one app on an HTTPS and a plain-HTTP loopback
// listener (tls-declare-helpers.ts); it trusts the test certificate through NODE_EXTRA_CA_CERTS.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { type CliResult, runCli } from "./cli-helpers.ts";
import { type DualServer, startDualServer } from "./tls-declare-helpers.ts";

const ALICE = { userId: "alice", password: "alice-Corr3ct-horse-tls-7" };
const T = 60_000;

let server: DualServer;
let root = "";
let caFile = "";

beforeAll(async () => {
  server = await startDualServer({ now: Date.now });
  await server.createUser(ALICE.userId, ALICE.password);
  root = mkdtempSync(join(tmpdir(), "cpns-cli-tls-"));
  caFile = join(root, "ca.pem");
  writeFileSync(caFile, server.certPem);
}, T);

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function cpns(serverUrl: string, keystore: string, args: string[]): Promise<CliResult> {
  return runCli([...args, "--password-stdin"], {
    stdin: `${ALICE.password}\n`,
    env: {
      CPNS_SERVER: serverUrl,
      CPNS_KEYSTORE: join(root, keystore),
      NODE_EXTRA_CA_CERTS: caFile,
    },
  });
}

async function declared(entityId: string): Promise<unknown> {
  const res = await createDigestFetch({
    username: ALICE.userId,
    password: ALICE.password,
    requireRspauth: true,
    fetch: server.https,
  })(`${server.tlsUrl}/cpns/v1/entities/${entityId}`);
  return ((await res.json()) as { tls?: unknown }).tls;
}

describe("[TLSDECL-ENROLL][SEED-5.x.4-6] cpns enroll declares TLS", () => {
  it(
    "[TLSDECL-ENROLL][TLSDECL-REFUSE-PLAIN] over https: declared by default; the same entity's whoami over plain HTTP is refused, over https it passes",
    async () => {
      const enrolled = await cpns(server.tlsUrl, "dev-a", [
        "enroll",
        "--user",
        "alice",
        "--entity",
        "cli-tls-gw",
        "--type",
        "PNGW",
      ]);
      expect(enrolled.stderr).toBe("");
      expect(enrolled.code).toBe(0);
      expect(await declared("cli-tls-gw")).toBe(true);
      const plain = await runCli(
        ["whoami", "--entity", "cli-tls-gw", "--server", server.plainUrl],
        {
          env: { CPNS_KEYSTORE: join(root, "dev-a") },
        },
      );
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/ERR_TLS_REQUIRED/);
      const secure = await runCli(["whoami", "--entity", "cli-tls-gw", "--server", server.tlsUrl], {
        env: { CPNS_KEYSTORE: join(root, "dev-a"), NODE_EXTRA_CA_CERTS: caFile },
      });
      expect(secure.stderr).toBe("");
      expect(secure.code).toBe(0);
    },
    T,
  );

  it(
    "[TLSDECL-ENROLL][TLSDECL-REFUSE-PLAIN] --tls over plain HTTP is refused and the key store stays empty; without it the entity is undeclared; --no-tls over https declares nothing",
    async () => {
      const refused = await cpns(server.plainUrl, "dev-b", [
        "enroll",
        "--user",
        "alice",
        "--entity",
        "cli-plain-pne",
        "--type",
        "PNE",
        "--tls",
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/ERR_TLS_REQUIRED/);
      const keys = await runCli(["keys", "--json"], {
        env: { CPNS_KEYSTORE: join(root, "dev-b") },
      });
      expect(keys.stdout).not.toContain("cli-plain-pne");
      const undeclared = await cpns(server.plainUrl, "dev-b", [
        "enroll",
        "--user",
        "alice",
        "--entity",
        "cli-plain-pne",
        "--type",
        "PNE",
      ]);
      expect(undeclared.code).toBe(0);
      expect(await declared("cli-plain-pne")).toBe(false);
      const optedOut = await cpns(server.tlsUrl, "dev-c", [
        "enroll",
        "--user",
        "alice",
        "--entity",
        "cli-notls-gw",
        "--type",
        "PNGW",
        "--no-tls",
      ]);
      expect(optedOut.code).toBe(0);
      expect(await declared("cli-notls-gw")).toBe(false);
    },
    T,
  );
});
