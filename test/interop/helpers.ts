// Shared harness for the interoperability tests (RFC 7616 §3.3-§3.5, RFC 7615 §3): runs our
// Hono middleware on a real Node HTTP server on 127.0.0.1 and drives third-party programs (curl,
// Python requests, Apache httpd) as child processes with hard timeouts.
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import type { Hono } from "hono";
import { it } from "vitest";
import { serveNode } from "../../src/runtime/node-server.ts";

/** True when running in CI: a missing third-party binary is then a failure, not a skip. */
export const IN_CI = process.env.CI === "true" || process.env.CI === "1";

export interface RunningServer {
  /** e.g. `http://127.0.0.1:43123` (no trailing slash). */
  baseUrl: string;
  port: number;
  close(): Promise<void>;
}

/** Serves a Hono app with our Node runtime server (src/runtime/node-server.ts) on 127.0.0.1, random port. */
// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its Env/Schema generics.
export function startHonoServer(app: Hono<any, any, any>): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serveNode({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      server.off("error", reject);
      resolve({
        baseUrl: `http://127.0.0.1:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            // Clients such as a requests.Session keep connections alive: drop them.
            if ("closeAllConnections" in server) server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
    server.once("error", reject);
  });
}

/** Asks the kernel for a currently free TCP port on 127.0.0.1 (for servers we cannot bind to 0). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      if (address === null || typeof address === "string") {
        srv.close();
        reject(new Error("could not determine a free port"));
        return;
      }
      const { port } = address;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Start it in a new session, without a controlling terminal, so that programs that prompt on
   * /dev/tty (htdigest, passwd-like tools) read `input` from stdin instead.
   */
  detached?: boolean;
}

/** Runs a program to completion, killing it (SIGKILL) when it outlives `timeoutMs`. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const { timeoutMs = 15_000, input, env, cwd, detached = false } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      detached,
      env: env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on("error", () => {
      // The program may exit without reading its input (EPIPE): its exit status tells.
    });
    child.stdin.end(input ?? "");
  });
}

/** Throws with the whole transcript when a run did not exit 0. */
export function assertSucceeded(what: string, result: RunResult): void {
  if (result.code === 0 && !result.timedOut) return;
  throw new Error(
    `${what} failed (code=${result.code}, signal=${result.signal}, timedOut=${result.timedOut})\n` +
      `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
  );
}

export interface BackgroundProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a long-running program (e.g. a server in the foreground); `stop()` ends it.
 * `detached` puts it in its own process group: needed for servers such as Apache prefork, whose
 * shutdown signals its whole process group (which would otherwise include the test runner).
 * `stop()` then signals that group.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean } = {},
): BackgroundProcess {
  const detached = options.detached ?? false;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      output += `\nspawn error: ${err.message}`;
      resolve({ code: null, signal: null });
    });
  });
  let running = child.pid !== undefined;
  void exited.then(() => {
    running = false;
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (detached && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // Already gone.
    }
  };
  // A detached group outlives us unless killed: make sure it dies with the test worker.
  const onExit = () => signal("SIGKILL");
  if (detached) {
    process.once("exit", onExit);
    void exited.then(() => process.off("exit", onExit));
  }
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 5_000) {
      if (running) {
        signal("SIGTERM");
        const timer = setTimeout(() => signal("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Leave no straggler of the group behind (workers of a pre-forking server).
      if (detached) signal("SIGKILL");
    },
  };
}

/** Polls until something accepts TCP connections on 127.0.0.1:port, or fails after `timeoutMs`. */
export async function waitForPort(
  port: number,
  timeoutMs = 10_000,
  isAlive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`process exited before listening on port ${port}`);
    if (Date.now() > deadline)
      throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a program: the first executable among `candidates` (absolute paths), else `name` on PATH.
 * Returns undefined when it is not installed.
 */
export function locateBinary(name: string, candidates: readonly string[] = []): string | undefined {
  for (const candidate of candidates) {
    if (isExecutable(candidate)) return candidate;
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  return undefined;
}

/**
 * Call inside a `describe` callback. Returns true when every prerequisite is present. Otherwise it
 * registers, in place of the suite's tests, a skipped test naming what is missing, or, in CI
 * (`CI=true`), a failing one, and returns false: the caller then registers nothing else.
 */
export function requirePrerequisites(missing: readonly string[]): boolean {
  if (missing.length === 0) return true;
  const message = `missing prerequisite(s): ${missing.join("; ")} (install with .ci/install-debian.sh)`;
  if (IN_CI) {
    it("has its third-party prerequisites installed", () => {
      throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
    });
  } else {
    console.warn(`[interop] SKIPPING: ${message}`);
    it.skip(`SKIPPED: ${message}`, () => {});
  }
  return false;
}

/** Parses `curl --version`'s first line into [major, minor, patch]. */
export function parseCurlVersion(versionOutput: string): [number, number, number] | undefined {
  const match = /^curl (\d+)\.(\d+)\.(\d+)/m.exec(versionOutput);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Lexicographic comparison of version triples: true when `v >= min`. */
export function versionAtLeast(
  v: readonly [number, number, number],
  min: readonly [number, number, number],
): boolean {
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

export interface HeaderParam {
  value: string;
  quoted: boolean;
}

/**
 * Minimal parser of one Digest challenge or credentials value, e.g.
 * `Digest username="a", nc=00000001`, for assertions only: keys lower-cased, quotes removed.
 */
export function parseDigestParams(header: string): Record<string, HeaderParam> {
  const params: Record<string, HeaderParam> = {};
  const body = header.replace(/^\s*Digest\s+/i, "");
  const re = /([A-Za-z0-9_*-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)/g;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    const key = (m[1] ?? "").toLowerCase();
    const quoted = m[3] !== undefined;
    const value = quoted ? (m[3] ?? "").replace(/\\(.)/g, "$1") : (m[2] ?? "");
    params[key] = { value, quoted };
  }
  return params;
}

/**
 * Splits WWW-Authenticate field values into single challenges. Fetch `Headers` (and so Hono on
 * Node) joins several WWW-Authenticate fields into ONE line with ", " (allowed by RFC 9110 §5.3,
 * RFC 7235 §4.1), so "Digest a=1, b=2, Digest a=3" holds two challenges: a new challenge starts
 * where, outside quotes, a comma is followed by `token SP token=`.
 */
export function splitChallenges(fieldValues: readonly string[]): string[] {
  const challenges: string[] = [];
  for (const value of fieldValues) {
    let start = 0;
    let inQuotes = false;
    for (let i = 0; i < value.length; i++) {
      const ch = value[i];
      if (inQuotes) {
        if (ch === "\\") i++;
        else if (ch === '"') inQuotes = false;
      } else if (ch === '"') {
        inQuotes = true;
      } else if (ch === ",") {
        if (/^\s*[!#$%&'*+.^`|~\w-]+\s+[!#$%&'*+.^`|~\w-]+\s*=/.test(value.slice(i + 1))) {
          challenges.push(value.slice(start, i).trim());
          start = i + 1;
        }
      }
    }
    const last = value.slice(start).trim();
    if (last !== "") challenges.push(last);
  }
  return challenges;
}
