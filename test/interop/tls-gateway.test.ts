// Issue #10, "TLS where both ends support it", for the PN GW (TLS-GATEWAY, OTK-TLS-PIN): a real
// `cpns gateway serve` process serves HTTPS with a self-signed certificate it keeps beside its key
// store, prints its pin and seals it with every OTK; a real peer (`cpns peer connect`) pins that
// key. Against a real `npm start` over TLS, so the PN GW's relay reaches the server with the CLI's
// own server trust. From the attacker's side: an impostor PN GW with another certificate, reached
// by a peer holding a genuine OTK, is refused on the TLS handshake and sees no HTTP byte at all
// (so no Digest exchange, nothing about the OTK).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSelfSignedCertificate } from "../../src/channel/certificate.ts";
import {
  type CliResult,
  REPO_ROOT,
  runCli,
  type ServerProcess,
  startServer,
} from "../e2e/cli-helpers.ts";
import { locateBinary, requirePrerequisites } from "./helpers.ts";
import { expectVersions, tls11Control } from "./tls-helpers.ts";

const OPENSSL = locateBinary("openssl", ["/usr/bin/openssl"]);
const T = 180_000;
const PASSWORD = "alice-Corr3ct-horse-battery";

function expectOk(result: CliResult): void {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

describe("[TLS-GATEWAY][OTK-TLS-PIN] cpns gateway serve over HTTPS, its pin sealed with the OTK, pinned by the peer", () => {
  if (!requirePrerequisites(OPENSSL ? [] : ["openssl"])) return;
  const openssl = OPENSSL as string;
  let root: string;
  let server: ServerProcess | undefined;
  let serverPin: string;
  let gateway: ChildProcess | undefined;
  let gatewayOut = "";
  let gatewayUrl: string;
  let gatewayPin: string;

  const env = (device: string): Record<string, string> => ({
    CPNS_SERVER: server?.baseUrl ?? "",
    CPNS_KEYSTORE: join(root, device),
    CPNS_DATA_DIR: join(root, "nowhere"),
    CPNS_TLS_PIN: serverPin,
  });
  const cli = (device: string, args: string[], stdin?: string) =>
    runCli(args, { env: env(device), timeoutMs: 60_000, ...(stdin ? { stdin } : {}) });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cpns-tls-gw-"));
    server = await startServer(join(root, "data"), 90_000, { tls: true });
    serverPin = readFileSync(join(root, "data", "tls.pin"), "utf8").trim();
    expectOk(
      await runCli(["user", "add", "alice", "--password-stdin"], {
        env: { CPNS_SERVER: server.baseUrl, CPNS_DATA_DIR: join(root, "data") },
        stdin: `${PASSWORD}\n`,
        timeoutMs: 60_000,
      }),
    );
    const enroll = (device: string, entity: string, type: string) =>
      cli(
        device,
        ["enroll", "--user", "alice", "--entity", entity, "--type", type, "--password-stdin"],
        `${PASSWORD}\n`,
      );
    expectOk(await enroll("gw", "gw-1", "PNGW"));
    expectOk(await enroll("pne", "pne-1", "PNE"));
    expectOk(await enroll("pne", "pne-2", "PNE"));

    gateway = spawn(
      process.execPath,
      [
        "bin/cpns.mjs",
        "gateway",
        "serve",
        "--entity",
        "gw-1",
        "--listen",
        "127.0.0.1:0",
        "--offer",
        "pne-1",
        "--offer",
        "pne-2",
        "--json",
      ],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env("gw") },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway not ready:\n${gatewayOut}`)), T / 2);
      const onData = (chunk: Buffer) => {
        gatewayOut += chunk.toString("utf8");
        const listening = /^\{"event":"listening".*"url":"(https:\/\/127\.0\.0\.1:\d+)"/m.exec(
          gatewayOut,
        );
        if (listening?.[1]) {
          clearTimeout(timer);
          gatewayUrl = listening[1];
          resolve();
        }
      };
      gateway?.stdout?.on("data", onData);
      gateway?.stderr?.on("data", onData);
      gateway?.once("exit", () => reject(new Error(`gateway exited:\n${gatewayOut}`)));
    });
    const listening = gatewayOut.split("\n").find((l) => l.startsWith('{"event":"listening"'));
    gatewayPin = JSON.parse(listening ?? "{}").tlsPin;
  }, T);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway?.once("exit", resolve));
      gateway.kill("SIGTERM");
      await exited;
    }
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  }, T);

  it("[TLS-GATEWAY][TLS-SELF-SIGNED] the PN GW serves https with a self-signed certificate kept beside its key store; its pin is printed and differs from the server's", () => {
    expect(gatewayUrl).toMatch(/^https:/);
    expect(gatewayPin).toMatch(/^sha256\/\/[A-Za-z0-9+/]{43}=$/);
    expect(gatewayPin).not.toBe(serverPin);
    expect(readFileSync(join(root, "gw", "tls-gw-1", "tls.pin"), "utf8").trim()).toBe(gatewayPin);
  });

  it(
    "[FFS-TLS-VERSION][SEED-5.x.4-6][TLS-GATEWAY] openssl s_client against the real cpns gateway serve: TLS 1.1 refused (positive control first), 1.2 and 1.3 accepted",
    async () => {
      const certFile = join(root, "gw", "tls-gw-1", "tls-cert.pem");
      const control = await tls11Control(
        openssl,
        certFile,
        join(root, "gw", "tls-gw-1", "tls-key.pem"),
      );
      expect(control.stdout).toMatch(/Protocol\s*: TLSv1\.1/);
      await expectVersions(openssl, Number(new URL(gatewayUrl).port), certFile);
    },
    T,
  );

  it(
    "[OTK-TLS-PIN][TLS-GATEWAY-PIN] the OTK in the peer's inbox names the PN GW's pin (it came sealed with the OTK)",
    async () => {
      const inbox = await cli("pne", ["otk", "inbox", "--entity", "pne-1", "--json"]);
      expectOk(inbox);
      const otks = JSON.parse(inbox.stdout).otks as { issuerId: string; tlsPin?: string }[];
      expect(otks).toHaveLength(1);
      expect(otks[0]).toMatchObject({ issuerId: "gw-1", tlsPin: gatewayPin });
    },
    T,
  );

  it(
    "[OTK-TLS-PIN][TLS-IMPOSTOR][SEED-5.x.4-4] an impostor PN GW with another certificate, reached with a genuine OTK, is refused on the handshake: it sees no HTTP request at all",
    async () => {
      const other = await generateSelfSignedCertificate({
        commonName: "impostor",
        hosts: ["127.0.0.1"],
      });
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
        // The peer is sent to the impostor's address (as a rewritten endpoint would).
        const port = (impostor.address() as AddressInfo).port;
        const fooled = await cli("pne", [
          "peer",
          "connect",
          "--entity",
          "pne-2",
          "--gateway",
          `https://127.0.0.1:${port}`,
          "--message",
          "for the genuine PN GW only",
        ]);
        expect(fooled.code).toBe(1);
        expect(fooled.stderr).toMatch(/\(ERR_TLS_PIN_MISMATCH\)\n$/);
        expect(connections).toBeGreaterThan(0);
        expect(bytes).toBe(0);
      } finally {
        await new Promise<void>((resolve) => impostor.close(() => resolve()));
      }
    },
    T,
  );

  it(
    "[OTK-TLS-PIN][SEED-5.x.4-4][SEED-5.x.4-6][TLS-GATEWAY-PIN] the genuine peer connects over TLS pinned to the PN GW's key, sends a message and reaches the server through the relay",
    async () => {
      const connected = await cli("pne", [
        "peer",
        "connect",
        "--entity",
        "pne-1",
        "--message",
        "hello over TLS",
        "--via-gateway",
        "whoami",
      ]);
      expectOk(connected);
      expect(connected.stdout).toContain(`at ${gatewayUrl}`);
      expect(connected.stdout).toMatch(/hello over TLS/);
      expect(connected.stdout).toMatch(/pne-1/);
    },
    T,
  );
});
