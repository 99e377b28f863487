/**
 * Starts the CPNS Server Worker under `wrangler dev --local` (workerd, local
 * SQLite-backed Durable Objects, no network) for tests:
 *
 * - `startWorkerServer()`: one instance from the repository's own
 *   wrangler.toml (the production entry, src/runtime/worker.ts), its secrets
 *   through a temporary --env-file; what the whole-story conformance suite
 *   needs (base URL, admin token, close).
 * - `startWorkerPair()`: two instances that share one set of Durable Objects:
 *   two separate `wrangler dev` processes (two workerd processes, so two
 *   isolates with nothing in memory in common), the first defining the
 *   CpnsStore class, the second binding it by `script_name` through wrangler's
 *   local dev registry (WRANGLER_REGISTRY_PATH, a temporary folder per pair so
 *   parallel test files never meet). Both run the test entry
 *   test/workers/coordination-worker.ts (the production handler plus a test
 *   route), written into temporary configs here, never into wrangler.toml.
 *
 * Implements: FLEET-WORKERS-TWO
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT, type RuntimeProcess, startRuntime } from "../conformance/spawn.ts";

export interface WorkerSecrets {
  CPNS_REALM: string;
  CPNS_MASTER_KEY: string;
  CPNS_ADMIN_TOKEN: string;
  CPNS_DIGEST_SECRET: string;
  CPNS_ADMIN_TRANSPORT_KEY: string;
  CPNS_PLAIN_HTTP: string;
}

export function workerSecrets(): WorkerSecrets {
  return {
    CPNS_REALM: "cpns-workers",
    CPNS_MASTER_KEY: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TOKEN: `admin-${randomBytes(16).toString("hex")}`,
    CPNS_DIGEST_SECRET: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TRANSPORT_KEY: randomBytes(32).toString("base64url"),
    // Tests speak plain HTTP to loopback.
    CPNS_PLAIN_HTTP: "1",
  };
}

export interface WorkerServer {
  baseUrl: string;
  adminToken: string;
  /** The wrangler processes' output so far, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

export interface WorkerPair {
  instances: [WorkerServer, WorkerServer];
  adminToken: string;
  close(): Promise<void>;
}

const ALIASES = `[alias]
"@zxcvbn-ts/core" = "${join(REPO_ROOT, "src/runtime/worker-no-zxcvbn.ts")}"
"@zxcvbn-ts/language-common" = "${join(REPO_ROOT, "src/runtime/worker-no-zxcvbn.ts")}"
"@zxcvbn-ts/language-en" = "${join(REPO_ROOT, "src/runtime/worker-no-zxcvbn.ts")}"
`;

function writeEnvFile(dir: string, secrets: WorkerSecrets): string {
  const file = join(dir, "secrets.env");
  writeFileSync(
    file,
    Object.entries(secrets)
      .map(([key, value]) => `${key}=${value}`)
      .join("\n"),
  );
  return file;
}

async function wranglerDev(options: {
  name: string;
  config: string;
  envFile: string;
  state: string;
  registry: string;
  cleanup?: () => void;
}): Promise<RuntimeProcess> {
  // freePort() closes its probe before wrangler binds, so a parallel test's server may take
  // the port in between ("Address already in use", seen once in CI): try again on new
  // ports, as the Apache test does. Cleanup runs once, after the last attempt or on stop.
  for (let attempt = 1; ; attempt++) {
    try {
      const runtime = await startWrangler(options);
      const { cleanup } = options;
      if (!cleanup) return runtime;
      return {
        ...runtime,
        stop: async () => {
          await runtime.stop();
          cleanup();
        },
      };
    } catch (error) {
      if (attempt < 3 && /Address already in use/.test(String(error))) continue;
      options.cleanup?.();
      throw error;
    }
  }
}

async function startWrangler(options: {
  name: string;
  config: string;
  envFile: string;
  state: string;
  registry: string;
}): Promise<RuntimeProcess> {
  const port = await freePort();
  const inspectorPort = await freePort();
  return await startRuntime({
    name: options.name,
    command: join(REPO_ROOT, "node_modules", ".bin", "wrangler"),
    args: [
      "dev",
      "--config",
      options.config,
      "--local",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--env-file",
      options.envFile,
      "--persist-to",
      options.state,
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
    ],
    port,
    env: { WRANGLER_REGISTRY_PATH: options.registry },
    // Loaded machine: wrangler bundles, then workerd starts, then the second
    // process waits for the registry to connect it to the first's objects.
    startupTimeoutMs: 150_000,
  });
}

const asServer = (runtime: RuntimeProcess, adminToken: string): WorkerServer => ({
  baseUrl: runtime.baseUrl,
  adminToken,
  output: () => runtime.output(),
  close: () => runtime.stop(),
});

export interface WorkerServerOptions {
  /** Keep the Durable Objects' state here (kept after close), e.g. to restart on it. */
  stateDir?: string;
  secrets?: WorkerSecrets;
}

/** One CPNS Server Worker from wrangler.toml (the production entry and bindings). */
export async function startWorkerServer(options: WorkerServerOptions = {}): Promise<WorkerServer> {
  const dir = mkdtempSync(join(tmpdir(), "cpns-worker-"));
  const secrets = options.secrets ?? workerSecrets();
  const runtime = await wranglerDev({
    name: "workerd (cpns server)",
    config: join(REPO_ROOT, "wrangler.toml"),
    envFile: writeEnvFile(dir, secrets),
    state: options.stateDir ?? join(dir, "state"),
    registry: join(dir, "registry"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
  return asServer(runtime, secrets.CPNS_ADMIN_TOKEN);
}

/** Two Worker processes on one set of Durable Objects (see the file comment). */
export async function startWorkerPair(): Promise<WorkerPair> {
  const dir = mkdtempSync(join(tmpdir(), "cpns-worker-pair-"));
  const tag = randomBytes(4).toString("hex");
  const first = `cpns-test-a-${tag}`;
  const entry = join(REPO_ROOT, "test/workers/coordination-worker.ts");
  const header = (name: string) =>
    `name = "${name}"\nmain = "${entry}"\ncompatibility_date = "2026-04-01"\n`;
  writeFileSync(
    join(dir, "a.toml"),
    `${header(first)}
[[durable_objects.bindings]]
name = "CPNS_STORE"
class_name = "CpnsStore"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["CpnsStore"]

${ALIASES}`,
  );
  writeFileSync(
    join(dir, "b.toml"),
    `${header(`cpns-test-b-${tag}`)}
[[durable_objects.bindings]]
name = "CPNS_STORE"
class_name = "CpnsStore"
script_name = "${first}"

${ALIASES}`,
  );
  const secrets = workerSecrets();
  const envFile = writeEnvFile(dir, secrets);
  const registry = join(dir, "registry");
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let one: RuntimeProcess | undefined;
  try {
    one = await wranglerDev({
      name: "workerd a",
      config: join(dir, "a.toml"),
      envFile,
      state: join(dir, "state-a"),
      registry,
    });
    // Healthy only once its binding reaches the first process's objects (/health builds the app).
    const two = await wranglerDev({
      name: "workerd b",
      config: join(dir, "b.toml"),
      envFile,
      state: join(dir, "state-b"),
      registry,
    });
    const started = one;
    return {
      adminToken: secrets.CPNS_ADMIN_TOKEN,
      instances: [
        asServer(started, secrets.CPNS_ADMIN_TOKEN),
        asServer(two, secrets.CPNS_ADMIN_TOKEN),
      ],
      close: async () => {
        await Promise.all([two.stop(), started.stop()]);
        cleanup();
      },
    };
  } catch (error) {
    await one?.stop();
    cleanup();
    throw error;
  }
}
