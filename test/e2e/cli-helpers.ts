/**
 * Helpers for the `cpns` end-to-end test: a real CPNS Server process
 * (tsx src/runtime/node.ts) in its own process group on a port the kernel
 * picks, ready once it prints its "listening" line; the CLI run as a child
 * process exactly as a user types it (`node bin/cpns.mjs ...`), every run kept
 * in a transcript for the secrets scan; and a stand-in server that cannot
 * prove knowledge of any key.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Everything the server process or a CLI run wrote, for the secrets scan. */
export const transcript: string[] = [];

export interface ServerProcess {
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

const LISTENING = /CPNS Server listening on (https?:\/\/127\.0\.0\.1:\d+)/;

/**
 * Starts the CPNS Server with its data in `dataDir`; resolves when it listens.
 * Plain HTTP (the explicit development mode) unless `tls` is set: then HTTPS
 * with the development certificate it keeps in `dataDir` (tls-cert.pem, tls.pin).
 */
export async function startServer(
  dataDir: string,
  timeoutMs = 30_000,
  options: { tls?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["src/runtime/node.ts"], {
    cwd: REPO_ROOT,
    // PORT=0: the kernel picks a free port and the server prints it; no race with other tests.
    env: {
      ...cleanEnv(),
      PORT: "0",
      HOST: "127.0.0.1",
      CPNS_DATA_DIR: dataDir,
      ...(options.tls ? {} : { CPNS_PLAIN_HTTP: "1" }),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: tsx forks, and stop() must reach every descendant
  });
  let log = "";
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // the group is gone already
    }
  };
  const stop = async () => {
    signal("SIGTERM");
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
    if ((await Promise.race([exit, timeout])) === "timeout") signal("SIGKILL");
  };
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`no "listening" line in ${timeoutMs} ms`)),
      timeoutMs,
    );
    function fail(err: Error) {
      clearTimeout(timer);
      reject(new Error(`${err.message}\n--- server output ---\n${log}`));
    }
    const onData = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      const match = LISTENING.exec(log);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", fail);
    child.once("exit", (code, sig) =>
      fail(new Error(`server exited (code ${code}, signal ${sig})`)),
    );
  }).catch(async (err) => {
    await stop();
    throw err;
  });
  return { baseUrl, output: () => log, stop };
}

/** The test's environment minus anything that would change what the CLI reads. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const name of Object.keys(env)) if (name.startsWith("CPNS_")) delete env[name];
  return env;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Written to stdin, then stdin is closed (a password for --password-stdin). */
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `node bin/cpns.mjs <args>` with the given environment (CPNS_* only from `env`). */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["bin/cpns.mjs", ...args], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      transcript.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? "");
  });
}

/** Every file under `dir` (recursively) as text. */
export function readTree(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...readTree(path));
    else out.push({ path, text: readFileSync(path, "utf8") });
  }
  return out;
}

export interface Impostor {
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * A server that does not know any EUKey. `challenge`: it sends a Digest
 * challenge and then accepts any answer with 200 but no rspauth (it cannot
 * compute one). `open`: it answers 200 at once, with no Digest exchange at all.
 * Either way it claims the entity belongs to "mallory".
 */
export async function startImpostor(mode: "challenge" | "open"): Promise<Impostor> {
  const server: Server = createServer((req, res) => {
    if (mode === "challenge" && !req.headers.authorization) {
      res.writeHead(401, {
        "www-authenticate": 'Digest realm="cpns", qop="auth-int", algorithm=SHA-256, nonce="n0nce"',
        "content-type": "application/problem+json",
      });
      res.end('{"code":"ERR_DIGEST_UNAUTHORIZED","title":"Authentication required"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"entityId":"gw-1","userId":"mallory","type":"PNGW","keyVersion":99}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
