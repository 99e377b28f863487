// Issue #10, "TLS where both ends support it", on the real processes: `npm start` (tsx
// src/runtime/node.ts) serves HTTPS by default with a development certificate it generates once
// and keeps in its data folder (TLS-DEV-CERT), checked with real third-party clients (openssl
// s_client per version, curl --cacert / --pinnedpubkey); and the real `cpns` CLI trusts it by
// --pin / --cacert / <data>/tls.pin only (TLS-CLI-TRUST): a wrong pin or an impostor with another
// key fails with a stable code before any request is sent.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSelfSignedCertificate } from "../../src/channel/certificate.ts";
import { type CliResult, runCli, type ServerProcess, startServer } from "../e2e/cli-helpers.ts";
import { locateBinary, requirePrerequisites, runProcess } from "./helpers.ts";
import { expectVersions, tls11Control } from "./tls-helpers.ts";

const OPENSSL = locateBinary("openssl", ["/usr/bin/openssl"]);
const CURL = locateBinary("curl", ["/usr/bin/curl"]);
const T = 120_000;
const PASSWORD = "alice-Corr3ct-horse-battery";

/** The lines printed after the "listening" line the harness waits for. */
async function outputMatching(server: ServerProcess, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 200 && !pattern.test(server.output()); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server.output();
}

function expectOk(result: CliResult): void {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

describe("[TLS-DEV-CERT][TLS-CLI-TRUST] npm start over HTTPS, with real TLS clients and the cpns CLI", () => {
  if (!requirePrerequisites([...(OPENSSL ? [] : ["openssl"]), ...(CURL ? [] : ["curl"])])) return;
  const openssl = OPENSSL as string;
  const curl = CURL as string;
  let root: string;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let pin: string;
  let port: number;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cpns-tls-proc-"));
    dataDir = join(root, "data");
    server = await startServer(dataDir, 90_000, { tls: true });
    port = Number(new URL(server.baseUrl).port);
    pin = readFileSync(join(dataDir, "tls.pin"), "utf8").trim();
  }, T);

  afterAll(async () => {
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  }, T);

  const cli = (args: string[], env: Record<string, string> = {}, stdin?: string) =>
    runCli(args, {
      env: { CPNS_SERVER: server?.baseUrl ?? "", CPNS_KEYSTORE: join(root, "device"), ...env },
      ...(stdin === undefined ? {} : { stdin }),
      timeoutMs: 60_000,
    });

  it(
    "[TLS-DEV-CERT][TLS-SELF-SIGNED] first start: https URL, a self-signed certificate for the listen host and loopback names, key 0600, pin printed and in <data>/tls.pin",
    async () => {
      const output = await outputMatching(server as ServerProcess, /TLS pin: /);
      expect(server?.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(output).toMatch(
        /TLS: self-signed development certificate, generated now .*tls-cert\.pem/,
      );
      expect(pin).toMatch(/^sha256\/\/[A-Za-z0-9+/]{43}=$/);
      expect(output).toContain(`TLS pin: ${pin} (${join(dataDir, "tls.pin")})`);
      expect(output).not.toMatch(/PLAIN HTTP/);
      expect(statSync(join(dataDir, "tls-key.pem")).mode & 0o777).toBe(0o600);
      const text = await runProcess(openssl, [
        "x509",
        "-in",
        join(dataDir, "tls-cert.pem"),
        "-noout",
        "-text",
      ]);
      expect(text.stdout).toMatch(/DNS:localhost/);
      expect(text.stdout).toMatch(/IP Address:127\.0\.0\.1/);
      expect(text.stdout).toMatch(/IP Address:0:0:0:0:0:0:0:1/);
      expect(text.stdout).toMatch(/CA:FALSE/);
    },
    T,
  );

  it(
    "[FFS-TLS-VERSION][SEED-5.x.4-6] openssl s_client: TLS 1.1 refused by the real npm start (positive control first), 1.2 and 1.3 accepted",
    async () => {
      const control = await tls11Control(
        openssl,
        join(dataDir, "tls-cert.pem"),
        join(dataDir, "tls-key.pem"),
      );
      expect(control.stdout).toMatch(/Protocol\s*: TLSv1\.1/);
      await expectVersions(openssl, port, join(dataDir, "tls-cert.pem"));
    },
    T,
  );

  it(
    "[TLS-SELF-SIGNED][SEED-5.x.4-6] curl reaches the real npm start by --cacert and by --pinnedpubkey; without either it refuses",
    async () => {
      const url = `${server?.baseUrl}/cpns/v1`;
      const byCa = await runProcess(curl, ["-sS", "--cacert", join(dataDir, "tls-cert.pem"), url]);
      expect(byCa.code, byCa.stderr).toBe(0);
      expect(JSON.parse(byCa.stdout)).toMatchObject({ service: "cpns" });
      // localhost is in the certificate too.
      const byName = await runProcess(curl, [
        "-sS",
        "--cacert",
        join(dataDir, "tls-cert.pem"),
        `https://localhost:${port}/health`,
      ]);
      expect(byName.code, byName.stderr).toBe(0);
      // Pin alone: curl still checks the chain unless told not to, so give both, as curl's docs do.
      const byPin = await runProcess(curl, [
        "-sS",
        "--cacert",
        join(dataDir, "tls-cert.pem"),
        "--pinnedpubkey",
        pin,
        url,
      ]);
      expect(byPin.code, byPin.stderr).toBe(0);
      const none = await runProcess(curl, ["-sS", url]);
      expect(none.code).toBe(60);
    },
    T,
  );

  it(
    "[TLS-CLI-TRUST][SEED-5.x.4-6] the CLI end to end over TLS: user add (pin from <data>/tls.pin), enroll with --pin, whoami with --cacert and with CPNS_TLS_PIN",
    async () => {
      expectOk(
        await cli(
          ["user", "add", "alice", "--password-stdin"],
          { CPNS_DATA_DIR: dataDir },
          `${PASSWORD}\n`,
        ),
      );
      // No data folder from here on: the trust comes only from the flag or variable named.
      const enrolled = await cli(
        ["enroll", "--user", "alice", "--entity", "gw-1", "--type", "PNGW", "--password-stdin"],
        { CPNS_DATA_DIR: join(root, "nowhere"), CPNS_TLS_PIN: pin },
        `${PASSWORD}\n`,
      );
      expect(enrolled.stderr).toBe("");
      expect(enrolled.code).toBe(0);
      expect(enrolled.stdout).toMatch(/^enrolled gw-1 \(PNGW\) for alice/);
      // --pin given as a global option after the subcommand too (commander global options).
      const withPin = await cli(["whoami", "--entity", "gw-1", "--pin", pin], {
        CPNS_DATA_DIR: join(root, "nowhere"),
      });
      expectOk(withPin);
      expect(withPin.stdout).toMatch(/gw-1/);
      expectOk(
        await cli(["--cacert", join(dataDir, "tls-cert.pem"), "whoami", "--entity", "gw-1"], {
          CPNS_DATA_DIR: join(root, "nowhere"),
        }),
      );
      expectOk(
        await cli(["whoami", "--entity", "gw-1"], {
          CPNS_DATA_DIR: join(root, "nowhere"),
          CPNS_TLS_PIN: pin,
        }),
      );
    },
    T,
  );

  it(
    "[TLS-CLI-TRUST][TLS-PIN-FIRST] a wrong pin, no trust at all, or an impostor with another key: a stable code, and the impostor receives no byte of HTTP",
    async () => {
      const nowhere = { CPNS_DATA_DIR: join(root, "nowhere") };
      const other = await generateSelfSignedCertificate({
        commonName: "impostor",
        hosts: ["127.0.0.1"],
      });
      const wrongPin = `sha256//${other.spkiPin}`;
      const wrong = await cli(["whoami", "--entity", "gw-1", "--pin", wrongPin], nowhere);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^cpns: .*pin.* \(ERR_TLS_PIN_MISMATCH\)\n$/);
      const untrusted = await cli(["whoami", "--entity", "gw-1"], nowhere);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/\(ERR_TLS_UNTRUSTED\)\n$/);
      const malformed = await cli(
        ["whoami", "--entity", "gw-1", "--pin", "sha256//short"],
        nowhere,
      );
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toMatch(/\(ERR_TLS_PIN_INVALID\)\n$/);

      // The impostor: another key at another address, told to the CLI as the server.
      let connections = 0;
      let bytes = 0;
      const impostor = createTlsServer({ cert: other.certPem, key: other.keyPem }, (socket) => {
        socket.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
        });
        socket.on("error", () => {});
      });
      impostor.on("connection", () => {
        connections++;
      });
      await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
      try {
        const impostorUrl = `https://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
        const fooled = await cli(
          ["enroll", "--user", "alice", "--entity", "pne-1", "--type", "PNE", "--password-stdin"],
          { ...nowhere, CPNS_SERVER: impostorUrl, CPNS_TLS_PIN: pin },
          `${PASSWORD}\n`,
        );
        expect(fooled.code).toBe(1);
        expect(fooled.stderr).toMatch(/\(ERR_TLS_PIN_MISMATCH\)\n$/);
        expect(fooled.stderr).not.toContain(PASSWORD);
        expect(connections).toBeGreaterThan(0);
        expect(bytes).toBe(0);
      } finally {
        await new Promise<void>((resolve) => impostor.close(() => resolve()));
      }
    },
    T,
  );

  it(
    "[TLS-DEV-CERT] a restart keeps the certificate and its pin; CPNS_PLAIN_HTTP=1 says PLAIN HTTP loudly and removes tls.pin",
    async () => {
      await server?.stop();
      server = await startServer(dataDir, 90_000, { tls: true });
      expect(await outputMatching(server, /TLS pin: /)).toMatch(
        /TLS: self-signed development certificate \//,
      );
      expect(readFileSync(join(dataDir, "tls.pin"), "utf8").trim()).toBe(pin);
      await server.stop();
      server = await startServer(dataDir, 90_000);
      expect(server.baseUrl).toMatch(/^http:\/\//);
      expect(await outputMatching(server, /admin key pin: /)).toMatch(
        /WARNING: CPNS_PLAIN_HTTP=1: PLAIN HTTP, NO TLS/,
      );
      expect(() => statSync(join(dataDir, "tls.pin"))).toThrow();
    },
    2 * T,
  );
});
