/**
 * The one file the `cpns` command reads on the operator's machine: the admin
 * token the embedded server keeps beside its data (src/runtime/node-config.ts).
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
