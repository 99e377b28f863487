/**
 * The files the `cpns` command reads on the operator's machine: the admin
 * token and the admin transport key's pin that the embedded server keeps
 * beside its data (src/runtime/node-config.ts, src/runtime/node.ts), its TLS
 * pin (<data>/tls.pin, issue #10) and a CA file named by --cacert.
 *
 * Implements: ADMIN-KEY-PIN
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export function readAdminTokenFile(dataDir: string): {
  file: string;
  token?: string;
  reason?: string;
} {
  const file = join(resolve(dataDir), "admin.token");
  try {
    return { file, token: readFileSync(file, "utf8").trim() };
  } catch (err) {
    return { file, reason: (err as NodeJS.ErrnoException).code ?? "unreadable" };
  }
}

/** <dataDir>/tls.pin (issue #10: the server's TLS key), or undefined when there is none. */
export function readTlsPinFile(dataDir: string): { file: string; pin?: string } {
  const file = join(resolve(dataDir), "tls.pin");
  try {
    return { file, pin: readFileSync(file, "utf8").trim() || undefined };
  } catch {
    return { file };
  }
}

/** A PEM file the operator named (--cacert); the reason when it cannot be read. */
export function readPemFile(path: string): { file: string; text?: string; reason?: string } {
  const file = resolve(path);
  try {
    return { file, text: readFileSync(file, "utf8") };
  } catch (err) {
    return { file, reason: (err as NodeJS.ErrnoException).code ?? "unreadable" };
  }
}

/** <dataDir>/admin-key.pin (issue #9 item 6), or undefined when there is none. */
export function readAdminKeyPinFile(dataDir: string): string | undefined {
  try {
    return readFileSync(join(resolve(dataDir), "admin-key.pin"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
