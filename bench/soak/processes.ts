/**
 * Issue #9 "Reliability figures": the real processes the soak drives. The
 * CPNS Server is `tsx src/runtime/node.ts` on a data folder and the PN GW is
 * `cpns gateway serve` (bin/cpns.mjs), both pinned to core 0 with taskset when
 * it exists (the load generator pins itself to core 1), on loopback only, each
 * in its own process group so a stop or a SIGKILL reaches tsx's child too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const TASKSET = ["/usr/bin/taskset", "/bin/taskset"].find((path) => existsSync(path));
/** Off in the CI version: pinning a test worker would starve the tests beside it. */
let pinning = true;
export function setPinning(enabled: boolean): void {
  pinning = enabled;
}

export interface Proc {
  readonly pid: number;
  output(): string;
  /** True once the process group leader has exited (killed or crashed). */
  exited(): boolean;
  /** Resident set of the deepest process of the group (tsx forks node), in bytes. */
  rssBytes(): number | undefined;
  /** CPU time (user + system) of the deepest process of the group so far, in seconds. */
  cpuSeconds(): number | undefined;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Spawns `command args` on core `core`, in its own process group; `ready` matches its output. */
export async function spawnPinned(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  core = 0,
  timeoutMs = 30_000,
): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const [bin, argv] =
    TASKSET && pinning ? [TASKSET, ["-c", String(core), command, ...args]] : [command, args];
  const child: ChildProcess = spawn(bin, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  let gone = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      gone = true;
      resolve();
    }),
  );
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      // the group is gone already
    }
  };
  const waitExit = async (ms: number) =>
    Promise.race([exit, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  const proc: Proc = {
    pid: child.pid ?? -1,
    output: () => log,
    exited: () => gone,
    rssBytes: () => (child.pid ? deepestRss(child.pid) : undefined),
    cpuSeconds: () => (child.pid ? deepestCpu(child.pid) : undefined),
    async stop() {
      signal("SIGTERM");
      await waitExit(5000);
      signal("SIGKILL");
      await waitExit(2000);
    },
    async kill9() {
      signal("SIGKILL");
      await waitExit(5000);
    },
  };
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`not ready in ${timeoutMs} ms`)), timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")}: ${err.message}\n${log}`));
    }
    const onData = (chunk: Buffer) => {
      log += chunk.toString("utf8");
      const found = ready.exec(log);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", fail);
    child.once("exit", (code, sig) => fail(new Error(`exited (code ${code}, signal ${sig})`)));
  }).catch(async (err) => {
    await proc.stop();
    throw err;
  });
  return { proc, match };
}

/** Children of `pid` per /proc (Linux); empty elsewhere. */
function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/** The last descendant (taskset execs, tsx forks the real node). */
function deepest(pid: number): number {
  let current = pid;
  for (let depth = 0; depth < 4; depth++) {
    const next = childrenOf(current)[0];
    if (next === undefined) break;
    current = next;
  }
  return current;
}

/** utime + stime of the last descendant, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
function deepestCpu(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${deepest(pid)}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** VmRSS of the last descendant. */
function deepestRss(pid: number): number | undefined {
  const current = deepest(pid);
  try {
    const status = readFileSync(`/proc/${current}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface ServerProc {
  url: string;
  proc: Proc;
  adminToken: string;
}

/** `tsx src/runtime/node.ts` on `dataDir` (kept secrets are generated there on first start). */
export async function startServerProcess(dataDir: string, core = 0): Promise<ServerProc> {
  const { proc, match } = await spawnPinned(
    join(REPO_ROOT, "node_modules", ".bin", "tsx"),
    ["src/runtime/node.ts"],
    // The soak measures the protocol, not TLS: the explicit plain-HTTP development mode.
    { CPNS_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", CPNS_PLAIN_HTTP: "1" },
    /CPNS Server listening on (http:\/\/127\.0\.0\.1:\d+)/,
    core,
  );
  const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  return { url: match[1] as string, proc, adminToken };
}

export interface GatewayProc {
  url: string;
  proc: Proc;
}

/**
 * `cpns gateway serve` for `gatewayId`, whose EUKey is in the key store folder
 * `keystoreDir`, with one OTK offered to each of `offers`.
 */
export async function startGatewayProcess(input: {
  serverUrl: string;
  keystoreDir: string;
  gatewayId: string;
  offers: string[];
  core?: number;
}): Promise<GatewayProc> {
  const args = ["bin/cpns.mjs", "gateway", "serve", "--entity", input.gatewayId];
  args.push("--listen", "127.0.0.1:0", "--otk-lifetime", "280", "--json");
  for (const peer of input.offers) args.push("--offer", peer);
  const { proc, match } = await spawnPinned(
    process.execPath,
    args,
    { CPNS_SERVER: input.serverUrl, CPNS_KEYSTORE: input.keystoreDir, CPNS_PLAIN_HTTP: "1" },
    /"event":"listening".*?"url":"(http:\/\/127\.0\.0\.1:\d+)"/,
    input.core ?? 0,
    60_000,
  );
  return { url: match[1] as string, proc };
}

/** Pins this process (the load generator) to `core`, if taskset exists. */
export function pinSelf(core: number): boolean {
  if (!TASKSET || !pinning) return false;
  const child = spawn(TASKSET, ["-pc", String(core), String(process.pid)], { stdio: "ignore" });
  child.unref();
  return true;
}
