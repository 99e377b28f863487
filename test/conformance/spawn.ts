/**
 * Child-process helpers for the cross-runtime conformance suite: pick a free
 * loopback port, start one real runtime (Node via tsx, Deno, workerd via
 * `wrangler dev`) in its own process group, wait until it answers /health, and
 * kill the whole group afterwards (tsx and wrangler both fork grandchildren, so
 * killing only the direct child would leak servers). Nothing here needs the
 * network: every runtime is told not to phone home.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The accounts every runtime under test is configured with (via CPNS_DEMO_USERS). */
export const CONFORMANCE_USERS = {
  alice: "wonderland-correct-horse",
  bob: "builder-battery-staple",
} as const;

export const CONFORMANCE_REALM = "cpns-conformance";

/** Demo app configuration, in the environment-variable form `demoConfigFromEnv` reads. */
export function conformanceEnv(): Record<string, string> {
  return {
    CPNS_REALM: CONFORMANCE_REALM,
    CPNS_DIGEST_SECRET: randomBytes(32).toString("base64url"),
    CPNS_DEMO_USERS: Object.entries(CONFORMANCE_USERS)
      .map(([user, password]) => `${user}:${password}`)
      .join(","),
  };
}

/** Environment that keeps the runtimes' tooling quiet and offline. */
const QUIET_ENV: Record<string, string> = {
  CI: "true",
  NO_COLOR: "1",
  WRANGLER_SEND_METRICS: "false",
  // Otherwise miniflare fetches https://workers.cloudflare.com/cf.json at startup.
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  DENO_NO_UPDATE_CHECK: "1",
  DENO_NO_PROMPT: "1",
};

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("no TCP address"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

export interface RuntimeProcess {
  readonly name: string;
  readonly baseUrl: string;
  /** Everything the process wrote so far (stdout and stderr interleaved, capped). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  env?: Record<string, string>;
  startupTimeoutMs?: number;
  cleanup?: () => void;
}

const OUTPUT_CAP = 64 * 1024;

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startRuntime(options: StartOptions): Promise<RuntimeProcess> {
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const child = spawn(options.command, options.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...QUIET_ENV, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() can signal every descendant
  });
  let log = "";
  const append = (chunk: Buffer) => {
    log += chunk.toString("utf8");
    if (log.length > OUTPUT_CAP) log = log.slice(-OUTPUT_CAP);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exit = new Promise<void>((resolve) => {
    if (exited(child)) resolve();
    else child.once("exit", () => resolve());
  });

  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // group already gone
    }
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    signalGroup("SIGTERM");
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
    if ((await Promise.race([exit, timeout])) === "timeout") signalGroup("SIGKILL");
    // workerd may outlive wrangler by a moment; make sure nothing in the group survives.
    signalGroup("SIGKILL");
    options.cleanup?.();
  };

  const runtime: RuntimeProcess = { name: options.name, baseUrl, output: () => log, stop };
  try {
    await waitForHealth(baseUrl, child, options.startupTimeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw new Error(
      `${options.name} did not become healthy at ${baseUrl}: ${(error as Error).message}\n--- output ---\n${log}`,
    );
  }
  return runtime;
}

async function waitForHealth(baseUrl: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let lastError = "not tried";
  while (Date.now() < deadline) {
    if (exited(child)) {
      throw new Error(`process exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms (last: ${lastError})`);
}

export const bin = (name: string) => join(REPO_ROOT, "node_modules", ".bin", name);

/** `tsx src/runtime/node-demo.ts` with PORT/HOST and the conformance configuration. */
export async function startNode(): Promise<RuntimeProcess> {
  const port = await freePort();
  return await startRuntime({
    name: "node",
    command: bin("tsx"),
    args: ["src/runtime/node-demo.ts"],
    port,
    env: { ...conformanceEnv(), PORT: String(port), HOST: "127.0.0.1" },
  });
}

/** `deno run src/runtime/deno-demo.ts`; bare imports resolve from ./node_modules (deno.json). */
export async function startDeno(): Promise<RuntimeProcess> {
  const port = await freePort();
  return await startRuntime({
    name: "deno",
    command: bin("deno"),
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--no-prompt",
      "src/runtime/deno-demo.ts",
    ],
    port,
    env: { ...conformanceEnv(), PORT: String(port), HOST: "127.0.0.1" },
  });
}

/**
 * `wrangler dev --local` (workerd) on the Digest demo's config, wrangler.demo.toml
 * (wrangler.toml is the CPNS Server's). The conformance configuration goes through a
 * temporary --env-file, which overrides wrangler.toml's [vars] without touching
 * the repository; state goes to a temporary --persist-to directory.
 */
export async function startWorkerd(): Promise<RuntimeProcess> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "cpns-workerd-"));
  const envFile = join(dir, "conformance.env");
  writeFileSync(
    envFile,
    Object.entries(conformanceEnv())
      .map(([key, value]) => `${key}=${value}`)
      .join("\n"),
  );
  return await startRuntime({
    name: "workerd",
    command: bin("wrangler"),
    args: [
      "dev",
      "--config",
      "wrangler.demo.toml",
      "--local",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--env-file",
      envFile,
      "--persist-to",
      join(dir, "state"),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
    ],
    port,
    env: {},
    startupTimeoutMs: 90_000,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
}
