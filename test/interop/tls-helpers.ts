// Shared by the TLS process tests (issue #10): openssl s_client per protocol version, the TLS 1.1
// positive control (the same client command does speak TLS 1.1 to an s_server that allows it), and
// the version expectations of our resolution of the seed's FFS (FFS-TLS-VERSION).
import { expect } from "vitest";
import { findFreePort, runProcess, startProcess, waitForPort } from "./helpers.ts";

/** s_client with the given version flag; SECLEVEL=0 so OpenSSL 3 itself would offer TLS 1.1. */
export function sClient(openssl: string, port: number, version: string, caFile?: string) {
  return runProcess(
    openssl,
    [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      `-${version}`,
      "-cipher",
      "DEFAULT@SECLEVEL=0",
      ...(caFile ? ["-CAfile", caFile] : []),
    ],
    { input: "Q\n", timeoutMs: 15_000 },
  );
}

/** The positive control: the same s_client command speaks TLS 1.1 to a server that allows it. */
export async function tls11Control(openssl: string, certFile: string, keyFile: string) {
  const controlPort = await findFreePort();
  const control = startProcess(openssl, [
    "s_server",
    "-accept",
    `127.0.0.1:${controlPort}`,
    "-cert",
    certFile,
    "-key",
    keyFile,
    "-tls1_1",
    "-cipher",
    "DEFAULT@SECLEVEL=0",
    "-www",
  ]);
  try {
    await waitForPort(controlPort);
    return await sClient(openssl, controlPort, "tls1_1");
  } finally {
    await control.stop();
  }
}

/** TLS 1.1 refused by the server itself (alert from the peer), 1.2 and 1.3 accepted. */
export async function expectVersions(openssl: string, port: number, caFile: string) {
  const old = await sClient(openssl, port, "tls1_1", caFile);
  expect(old.code, old.stdout).not.toBe(0);
  expect(old.stdout).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
  expect(old.stdout + old.stderr).toMatch(/alert protocol version/i);
  const v12 = await sClient(openssl, port, "tls1_2", caFile);
  expect(v12.stdout).toMatch(/New, TLSv1\.2, Cipher is [A-Z0-9-]+/);
  expect(v12.stdout).toMatch(/Verify return code: 0 \(ok\)/);
  const v13 = await sClient(openssl, port, "tls1_3", caFile);
  expect(v13.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_[A-Z0-9_]+/);
  expect(v13.stdout).toMatch(/Verify return code: 0 \(ok\)/);
}
