/**
 * `npm run start:worker`: the CPNS Server Worker under `wrangler dev --local`
 * (workerd, local SQLite-backed Durable Objects, state in .wrangler/) in one
 * command on a fresh clone. A Worker cannot generate its secrets, so on the
 * first run this writes fresh ones to .dev.vars (git-ignored; wrangler dev
 * reads it, as `wrangler secret put` provides them in production) and keeps
 * them on later runs, so the local store stays readable. Extra arguments go
 * to wrangler (e.g. `npm run start:worker -- --port 9000`).
 *
 * Implements: FLEET-WORKERS-ENTRY
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const devVars = join(root, ".dev.vars");
if (!existsSync(devVars)) {
  const key = () => randomBytes(32).toString("base64url");
  writeFileSync(
    devVars,
    [
      "# Local development secrets of the CPNS Server Worker (npm run start:worker); never commit.",
      `CPNS_MASTER_KEY=${key()}`,
      `CPNS_ADMIN_TOKEN=${key()}`,
      `CPNS_DIGEST_SECRET=${key()}`,
      `CPNS_ADMIN_TRANSPORT_KEY=${key()}`,
      // wrangler dev serves plain HTTP on loopback.
      "CPNS_PLAIN_HTTP=1",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  console.log("wrote .dev.vars with fresh secrets (the admin token is CPNS_ADMIN_TOKEN there)");
}
const run = spawnSync(
  join(root, "node_modules", ".bin", "wrangler"),
  ["dev", "--local", ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit" },
);
process.exit(run.status ?? 1);
