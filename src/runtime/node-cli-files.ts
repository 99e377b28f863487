/**
 * The files the `cpns` command reads on the operator's machine: the admin
 * token and the admin transport key's pin that the embedded server keeps
 * beside its data (src/runtime/node-config.ts, src/runtime/node.ts).
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

/** <dataDir>/admin-key.pin (issue #9 item 6), or undefined when there is none. */
export function readAdminKeyPinFile(dataDir: string): string | undefined {
  try {
    return readFileSync(join(resolve(dataDir), "admin-key.pin"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
