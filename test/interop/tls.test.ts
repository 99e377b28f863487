// Interop, TLS (seed 5.x.4: "If both CPNS Entities support TLS, secure session is established by
// using TLS"; our resolution of its FFS on the version: TLS 1.2 minimum, 1.3 preferred, after
// RFC 8996). The CPNS Server app served over HTTPS by src/runtime/node-server.ts, checked with
// real third-party TLS clients: openssl s_client per protocol version, and curl with --cacert and
// --pinnedpubkey (SPKI SHA-256 pinning, as the agents will pin a PN GW's self-signed certificate).
// The certificate is the one src/channel/certificate.ts makes; openssl must read it and agree on
// its pin.
//
// The TLS 1.1 refusal is only meaningful if the client would have spoken TLS 1.1: the same
// s_client command (with -cipher DEFAULT@SECLEVEL=0, without which OpenSSL 3 refuses by itself)
// must first succeed against an `openssl s_server` that allows TLS 1.1 (the positive control).
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStorage } from "unstorage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateSelfSignedCertificate,
  spkiPinOfCertificate,
} from "../../src/channel/certificate.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import {
  findFreePort,
  locateBinary,
  requirePrerequisites,
  runProcess,
  startProcess,
  waitForPort,
} from "./helpers.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OPENSSL = locateBinary("openssl", ["/usr/bin/openssl"]);
const CURL = locateBinary("curl", ["/usr/bin/curl"]);

describe("[FFS-TLS-VERSION][TLS-SELF-SIGNED] the CPNS Server over HTTPS: TLS 1.2 minimum, 1.3 preferred", () => {
  if (!requirePrerequisites([...(OPENSSL ? [] : ["openssl"]), ...(CURL ? [] : ["curl"])])) return;
  const openssl = OPENSSL as string;
  const curl = CURL as string;

  let dir: string;
  let port: number;
  let close: () => Promise<void>;
  let spkiPin: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-tls-"));
    // The certificate the CPNS Server and a PN GW make for themselves (src/channel/certificate.ts).
    const generated = await generateSelfSignedCertificate({
      commonName: "cpns-tls-test",
      hosts: ["127.0.0.1", "localhost"],
    });
    writeFileSync(join(dir, "cert.pem"), generated.certPem);
    writeFileSync(join(dir, "key.pem"), generated.keyPem, { mode: 0o600 });
    // openssl must parse it and compute the same pin from it.
    const spki = await runProcess(openssl, [
      "x509",
      "-in",
      join(dir, "cert.pem"),
      "-pubkey",
      "-noout",
    ]);
    expect(spki.code, spki.stderr).toBe(0);
    const der = Buffer.from(
      spki.stdout.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""),
      "base64",
    );
    spkiPin = createHash("sha256").update(der).digest("base64");
    expect(generated.spkiPin).toBe(spkiPin);
    expect(await spkiPinOfCertificate(generated.certPem)).toBe(spkiPin);
    const text = await runProcess(openssl, [
      "x509",
      "-in",
      join(dir, "cert.pem"),
      "-noout",
      "-text",
    ]);
    expect(text.stdout).toMatch(/IP Address:127\.0\.0\.1/);
    expect(text.stdout).toMatch(/DNS:localhost/);
    expect(text.stdout).toMatch(/TLS Web Server Authentication/);
    expect(text.stdout).toMatch(/CA:FALSE/);

    const app = createServerApp({
      realm: "cpns-tls",
      storage: createStorage(),
      masterKey: randomBytes(32),
      adminToken: "tls-test-admin-token-0123456789",
      digestSecret: randomBytes(32),
    });
    const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
      const s = serveNode(
        {
          fetch: app.fetch,
          tls: {
            cert: readFileSync(join(dir, "cert.pem")),
            key: readFileSync(join(dir, "key.pem")),
          },
        },
        () => resolve(s),
      );
    });
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });

  afterAll(async () => {
    await close?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sClient = (target: number, version: string) =>
    runProcess(
      openssl,
      [
        "s_client",
        "-connect",
        `127.0.0.1:${target}`,
        `-${version}`,
        "-cipher",
        "DEFAULT@SECLEVEL=0",
        "-CAfile",
        join(dir, "cert.pem"),
      ],
      { input: "Q\n", timeoutMs: 10_000 },
    );

  it("[FFS-TLS-VERSION] positive control: this s_client does speak TLS 1.1 to a server that allows it", async () => {
    const controlPort = await findFreePort();
    const control = startProcess(openssl, [
      "s_server",
      "-accept",
      `127.0.0.1:${controlPort}`,
      "-cert",
      join(dir, "cert.pem"),
      "-key",
      join(dir, "key.pem"),
      "-tls1_1",
      "-cipher",
      "DEFAULT@SECLEVEL=0",
      "-www", // keep serving: a bare s_server stops after the port probe's empty connection
    ]);
    try {
      await waitForPort(controlPort);
      const result = await sClient(controlPort, "tls1_1");
      expect(result.stdout).toMatch(/Protocol\s*: TLSv1\.1/);
      expect(result.stdout).not.toMatch(/Cipher is \(NONE\)/);
    } finally {
      await control.stop();
    }
  });

  it("[FFS-TLS-VERSION] TLS 1.0 and 1.1 are refused by the server", async () => {
    for (const version of ["tls1", "tls1_1"]) {
      const result = await sClient(port, version);
      expect(result.code, `${version}: ${result.stdout}`).not.toBe(0);
      // No cipher was agreed, and it was the server that said no: a protocol_version alert
      // (alert 70) from the peer, not a client-side "no protocols available".
      expect(result.stdout).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
      expect(result.stdout + result.stderr).toMatch(/alert protocol version/i);
    }
  });

  it("[FFS-TLS-VERSION] TLS 1.2 and 1.3 are accepted, and a client offering both gets 1.3", async () => {
    const v12 = await sClient(port, "tls1_2");
    expect(v12.stdout).toMatch(/New, TLSv1\.2, Cipher is [A-Z0-9-]+/);
    const v13 = await sClient(port, "tls1_3");
    expect(v13.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_[A-Z0-9_]+/);
    const any = await runProcess(
      openssl,
      ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", join(dir, "cert.pem")],
      { input: "Q\n", timeoutMs: 10_000 },
    );
    expect(any.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_[A-Z0-9_]+/);
    expect(any.stdout).toMatch(/Verify return code: 0 \(ok\)/);
  });

  it("[TLS-SELF-SIGNED][FFS-TLS-VERSION] curl reaches the server by CA file and by SPKI pin; a wrong pin is refused", async () => {
    const url = `https://127.0.0.1:${port}/cpns/v1`;
    const byCa = await runProcess(curl, ["-sS", "--cacert", join(dir, "cert.pem"), url]);
    expect(byCa.code, byCa.stderr).toBe(0);
    expect(JSON.parse(byCa.stdout)).toMatchObject({ service: "cpns", realm: "cpns-tls" });
    const byPin = await runProcess(curl, [
      "-sS",
      "--cacert",
      join(dir, "cert.pem"),
      "--pinnedpubkey",
      `sha256//${spkiPin}`,
      url,
    ]);
    expect(byPin.code, byPin.stderr).toBe(0);
    const wrongPin = await runProcess(curl, [
      "-sS",
      "--cacert",
      join(dir, "cert.pem"),
      "--pinnedpubkey",
      `sha256//${createHash("sha256").update("another key").digest("base64")}`,
      url,
    ]);
    expect(wrongPin.code).toBe(90); // CURLE_SSL_PINNEDPUBKEYNOTMATCH
    const noTrust = await runProcess(curl, ["-sS", url]);
    expect(noTrust.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION: verification is never turned off
  });
});

describe("[FFS-TLS-VERSION] Deno serves HTTPS with TLS 1.2 minimum (Deno.serve with cert and key)", () => {
  const deno = join(REPO_ROOT, "node_modules", ".bin", "deno");
  if (!requirePrerequisites([...(OPENSSL ? [] : ["openssl"]), ...(CURL ? [] : ["curl"])])) return;
  const openssl = OPENSSL as string;
  const curl = CURL as string;
  let dir: string;
  let port: number;
  let server: ReturnType<typeof startProcess> | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-tls-deno-"));
    const generated = await generateSelfSignedCertificate({
      commonName: "cpns-deno",
      hosts: ["127.0.0.1"],
    });
    writeFileSync(join(dir, "cert.pem"), generated.certPem);
    writeFileSync(join(dir, "key.pem"), generated.keyPem, { mode: 0o600 });
    port = await findFreePort();
    server = startProcess(
      deno,
      [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        "--no-prompt",
        "src/runtime/deno-demo.ts",
      ],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          DENO_NO_UPDATE_CHECK: "1",
          NO_COLOR: "1",
          PORT: String(port),
          HOST: "127.0.0.1",
          CPNS_REALM: "cpns-deno-tls",
          CPNS_DIGEST_SECRET: "deno-tls-test-secret-0123456789",
          CPNS_DEMO_USERS: "alice:wonderland",
          CPNS_TLS_CERT_FILE: join(dir, "cert.pem"),
          CPNS_TLS_KEY_FILE: join(dir, "key.pem"),
        },
        detached: true,
      },
    );
    await waitForPort(port, 60_000);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("[FFS-TLS-VERSION] TLS 1.1 refused by Deno; 1.2 and 1.3 accepted; curl reaches /health by CA file", async () => {
    const sClient = (version: string) =>
      runProcess(
        openssl,
        [
          "s_client",
          "-connect",
          `127.0.0.1:${port}`,
          `-${version}`,
          "-cipher",
          "DEFAULT@SECLEVEL=0",
        ],
        { input: "Q\n", timeoutMs: 10_000 },
      );
    const old = await sClient("tls1_1");
    expect(old.code, server?.output()).not.toBe(0);
    expect(old.stdout).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
    // An alert received from Deno (rustls answers handshake_failure, 40; OpenSSL protocol_version, 70).
    expect(old.stdout + old.stderr).toMatch(
      /alert (protocol version|handshake failure).*SSL alert number (70|40)/i,
    );
    expect((await sClient("tls1_2")).stdout).toMatch(/New, TLSv1\.2, Cipher is [A-Z0-9-]+/);
    expect((await sClient("tls1_3")).stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_[A-Z0-9_]+/);
    const health = await runProcess(curl, [
      "-sS",
      "--cacert",
      join(dir, "cert.pem"),
      `https://127.0.0.1:${port}/health`,
    ]);
    expect(health.code, health.stderr).toBe(0);
  });
});
