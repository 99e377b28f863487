/**
 * Seed 5.x.2, second bullet, with the `cpns` command as a user types it
 * (CLI-FLOWS, SEED-5.x.2-4, PEER-SESSION, GATEWAY-RELAY): a real CPNS Server
 * process, a PN GW device and a PNE device (each its own key store folder),
 * and `cpns gateway serve` running in the background as the PN GW would in a
 * terminal of its own. alice enrolls both; the PN GW deposits an OTK for the
 * PNE; the PNE finds it in its inbox, fetches it, authenticates with the PN GW
 * both ways over it, is echoed, reaches the server through the relay, and
 * closes. An OTK opens one session only; a stand-in PN GW that cannot prove
 * the OTK is refused; and no password, HA1, EUKey or OTK shows anywhere.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64url, toHex } from "../../src/crypto/bytes.ts";
import { ALGORITHMS, computeHa1 } from "../../src/digest/index.ts";
import { keyFileName } from "../../src/runtime/node-keystore.ts";
import {
  type CliResult,
  type CliRunOptions,
  REPO_ROOT,
  readTree,
  runCli,
  type ServerProcess,
  startImpostor,
  startServer,
  transcript,
} from "./cli-helpers.ts";

const PASSWORD = "alice-Peer5-stapler-horse";
const T = 60_000;

let root = "";
let dataDir = "";
/** Two devices: the PN GW's key store and the PNEs'. */
const devices = { gw: "", pne: "" };
let server: ServerProcess | undefined;
/** Every EUKey the devices held, by Entity ID. */
const eukeys = new Map<string, string>();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "cpns-cli-peer-"));
  dataDir = join(root, "data");
  devices.gw = join(root, "gw-device");
  devices.pne = join(root, "pne-device");
  server = await startServer(dataDir);
}, T);

afterAll(async () => {
  await Promise.all(running.map((gateway) => gateway.stop("SIGKILL")));
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
}, T);

function env(device: keyof typeof devices): Record<string, string> {
  return {
    CPNS_SERVER: server?.baseUrl ?? "",
    CPNS_DATA_DIR: dataDir,
    CPNS_KEYSTORE: devices[device],
    // The explicit plain-HTTP development mode for `cpns gateway serve` (TLS: test/interop/tls-gateway.test.ts).
    CPNS_PLAIN_HTTP: "1",
  };
}

/** The CLI on one device, against the test server. */
function cpns(
  device: keyof typeof devices,
  args: string[],
  options: CliRunOptions = {},
): Promise<CliResult> {
  return runCli(args, { ...options, env: { ...env(device), ...options.env } });
}

function expectOk(result: CliResult): void {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

function expectFailure(result: CliResult, code: string, exit = 1): void {
  expect(result.code).toBe(exit);
  expect(result.stderr).toMatch(new RegExp(`^cpns: .+ \\(${code}\\)\\n$`));
  expect(result.stdout).toBe("");
}

function holdKey(device: keyof typeof devices, entityId: string): void {
  const record = JSON.parse(readFileSync(join(devices[device], keyFileName(entityId)), "utf8"));
  eukeys.set(entityId, record.eukey);
}

// ------------------------------------------------ `cpns gateway serve` in the background

interface Background {
  /** The listening URL, once the "listening" line is out (offers are made before it). */
  ready: Promise<string>;
  /** Types a line on the gateway's standard input (started with `stdin: true`). */
  type(line: string): void;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and resolves with how the process ended. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Background[] = [];
const LISTENING = /^PN GW \S+ listening on (http:\/\/127\.0\.0\.1:\d+) /m;
const LISTENING_JSON = /^\{"event":"listening".*"url":"(http:\/\/127\.0\.0\.1:\d+)"/m;

/** `node bin/cpns.mjs gateway serve ...` as a user starts it in a terminal of its own. */
function serveGateway(args: string[], options: { stdin?: boolean } = {}): Background {
  const child: ChildProcess = spawn(
    process.execPath,
    ["bin/cpns.mjs", "gateway", "serve", ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env("gw") },
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      transcript.push(out, err);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway not ready:\n${out}${err}`)), T / 2);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const match = LISTENING.exec(out) ?? LISTENING_JSON.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`gateway exited before listening:\n${out}${err}`));
    });
  });
  const background: Background = {
    ready,
    type: (line) => child.stdin?.write(`${line}\n`),
    stdout: () => out,
    stderr: () => err,
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.push(background);
  return background;
}

/** Waits until the background output matches (it is read from a pipe, asynchronously). */
async function outputMatches(
  gateway: Background,
  pattern: RegExp,
  timeoutMs = 5000,
): Promise<RegExpExecArray> {
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    const match = pattern.exec(gateway.stdout());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${pattern} in the gateway's output:\n${gateway.stdout()}`);
}

/** Waits until `condition` holds (output read from pipes arrives asynchronously). */
async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; waited < timeoutMs && !condition(); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(condition()).toBe(true);
}

// ------------------------------------------------------------------------- the story

describe("[CLI-FLOWS][SEED-5.x.2-4] peers with the cpns command", () => {
  let gateway: Background;
  let gatewayUrl = "";
  let otkId = "";

  it(
    "[CLI-FLOWS][SEED-5.x.2-4] user add alice; enroll gw-1 (PNGW) on the gateway device and pne-1, pne-2 (PNE) on the PNE device",
    async () => {
      expectOk(
        await cpns("gw", ["user", "add", "alice", "--password-stdin"], { stdin: `${PASSWORD}\n` }),
      );
      const enroll = (device: keyof typeof devices, entityId: string, type: string) =>
        cpns(
          device,
          ["enroll", "--user", "alice", "--entity", entityId, "--type", type, "--password-stdin"],
          { stdin: `${PASSWORD}\n` },
        );
      const results = await Promise.all([
        enroll("gw", "gw-1", "PNGW"),
        enroll("pne", "pne-1", "PNE"),
        enroll("pne", "pne-2", "PNE"),
      ]);
      for (const result of results) {
        expectOk(result);
        expect(result.stdout).toMatch(/^enrolled \S+ \((?:PNGW|PNE)\) for alice: key version 1;/);
      }
      holdKey("gw", "gw-1");
      holdKey("pne", "pne-1");
      holdKey("pne", "pne-2");
      // Each device holds its own keys only.
      expect(readdirSync(devices.gw)).toEqual([keyFileName("gw-1")]);
      expect(readdirSync(devices.pne).sort()).toEqual(
        [keyFileName("pne-1"), keyFileName("pne-2")].sort(),
      );
    },
    T,
  );

  it(
    "[SEED-5.x.2-4][CLI-FLOWS] gateway serve --offer pne-1 deposits an OTK at start and listens; otk inbox lists it without a key",
    async () => {
      gateway = serveGateway(["--entity", "gw-1", "--listen", "127.0.0.1:0", "--offer", "pne-1"]);
      gatewayUrl = await gateway.ready;
      const offer =
        /^offered an OTK to pne-1 \(PNE\): otk ([A-Za-z0-9_-]{22}), expires (\S+)$/m.exec(
          gateway.stdout(),
        );
      expect(offer).not.toBeNull();
      otkId = offer?.[1] ?? "";
      const expires = Date.parse(offer?.[2] ?? "");
      // The default OTK lifetime: 120 s from the deposit.
      expect(expires - Date.now()).toBeGreaterThan(60_000);
      expect(expires - Date.now()).toBeLessThanOrEqual(120_000);
      expect(gateway.stdout()).toContain(
        `PN GW gw-1 listening on ${gatewayUrl} (realm "cpns-gw:gw-1", peers reach it at ${gatewayUrl}; CPNS Server ${server?.baseUrl})`,
      );
      expect(gateway.stderr()).toBe("");

      const [table, json, elsewhere] = await Promise.all([
        cpns("pne", ["otk", "inbox", "--entity", "pne-1"]),
        cpns("pne", ["otk", "inbox", "--entity", "pne-1", "--json"]),
        // gw-1's key is on the gateway device, not here.
        cpns("pne", ["otk", "inbox", "--entity", "gw-1"]),
      ]);
      expectOk(table);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^OTK\s+ISSUER\s+EXPIRES\s+ENDPOINT$/);
      expect(lines[1]).toBe(`${otkId}  gw-1    ${new Date(expires).toISOString()}  ${gatewayUrl}`);
      expect(lines).toHaveLength(2);
      expectOk(json);
      const inbox = JSON.parse(json.stdout);
      expect(inbox).toEqual({
        entityId: "pne-1",
        otks: [
          {
            otkId,
            issuerId: "gw-1",
            peerId: "pne-1",
            expiresAt: new Date(expires).toISOString(),
            state: "deposited",
            endpoint: gatewayUrl,
          },
        ],
      });
      expectFailure(elsewhere, "ERR_NOT_ENROLLED");
    },
    T,
  );

  it(
    "[PEER-SESSION][GATEWAY-RELAY][SEED-5.x.2-4][CLI-FLOWS][PEERCH-CLI][SEED-5.x.4-4][SEED-5.x.4-2] peer connect --message hello --via-gateway whoami: mutual Digest over the OTK, the echo over the peer channel, whoami on a server channel through the relay, close",
    async () => {
      const connect = await cpns("pne", [
        "peer",
        "connect",
        "--entity",
        "pne-1",
        "--message",
        "hello",
        "--via-gateway",
        "whoami",
      ]);
      expectOk(connect);
      const lines = connect.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe(
        `fetched OTK ${otkId} from gw-1 (sealed under pne-1's EUKey, delivered once)`,
      );
      const opened = new RegExp(
        `^peer session ([A-Za-z0-9_-]{22}) open with PN GW gw-1 at ${gatewayUrl}: mutual Digest over the OTK, rspauth verified; expires (\\S+)$`,
      ).exec(lines[1] ?? "");
      expect(opened).not.toBeNull();
      const sessionId = opened?.[1] ?? "";
      // The default session lifetime: 900 s.
      expect(Date.parse(opened?.[2] ?? "") - Date.now()).toBeGreaterThan(800_000);
      expect(lines[2]).toMatch(
        /^secure channel [A-Za-z0-9_-]{22} open with gw-1 under the peer session \(keys from the session secret and this exchange's nonces, rspauth verified\)$/,
      );
      expect(lines[3]).toBe("echo from gw-1 over the secure channel: hello");
      expect(lines[4]).toBe(
        `whoami through gw-1's relay on a secure channel with the CPNS Server (end to end with pne-1's EUKey, realm "cpns"; the PN GW carried ciphertext only):`,
      );
      expect(lines[lines.length - 1]).toBe(`peer session ${sessionId} closed`);
      expect(JSON.parse(lines.slice(5, -1).join("\n"))).toEqual({
        entityId: "pne-1",
        userId: "alice",
        type: "PNE",
        keyVersion: 1,
      });

      // The PN GW's terminal tells the same story from its side.
      await outputMatches(
        gateway,
        new RegExp(`^peer session ${sessionId} with pne-1: closed$`, "m"),
      );
      expect(gateway.stdout()).toMatch(
        new RegExp(
          `^peer session ${sessionId} open with pne-1 \\(PNE\\): it proved OTK ${otkId}, the server consumed it; expires \\S+$`,
          "m",
        ),
      );
      const log = readFileSync(join(dataDir, "security.log"), "utf8");
      for (const event of ["otk.deposited", "otk.delivered", "otk.consumed"]) {
        expect(log).toContain(`"event":"${event}","`);
      }
      expect(log).toMatch(new RegExp(`"event":"otk.consumed".*"otkId":"${otkId}"`));
    },
    T,
  );

  it(
    "[PEER-SESSION][SEED-5.x.2-4][CLI-FLOWS] a second peer connect fails: no OTK waiting, and the used OTK is gone",
    async () => {
      const [again, reuse, inbox] = await Promise.all([
        cpns("pne", ["peer", "connect", "--entity", "pne-1", "--message", "hello"]),
        cpns("pne", ["peer", "connect", "--entity", "pne-1", "--otk", otkId]),
        cpns("pne", ["otk", "inbox", "--entity", "pne-1"]),
      ]);
      expectFailure(again, "ERR_NO_OTK");
      expect(again.stderr).toContain(`no OTK waiting for pne-1 at ${server?.baseUrl}`);
      expectFailure(reuse, "ERR_OTK_GONE");
      expect(reuse.stderr).toContain(`fetch OTK ${otkId}: The one-time key expired, was used`);
      expectOk(inbox);
      expect(inbox.stdout).toBe(`no OTK waiting for pne-1 at ${server?.baseUrl}\n`);
    },
    T,
  );

  it(
    "[CLI-FLOWS] gateway serve stops cleanly on SIGTERM (exit 0, its sessions summed up)",
    async () => {
      const ended = await gateway.stop("SIGTERM");
      expect(ended).toEqual({ code: 0, signal: null });
      expect(gateway.stdout()).toMatch(
        /\nPN GW gw-1 stopped \(SIGTERM\); 0 session\(s\) were still open\n$/,
      );
      expect(gateway.stderr()).toBe("");
    },
    T,
  );

  it(
    "[PEER-SESSION][SEED-5.x.2-4][CLI-FLOWS] with --json: the gateway prints one event a line; a PN GW that cannot prove the OTK is refused; peer connect --json",
    async () => {
      const json = serveGateway([
        "--entity",
        "gw-1",
        "--listen",
        "127.0.0.1:0",
        "--offer",
        "pne-1",
        "--offer",
        "pne-2",
        "--otk-lifetime",
        "60",
        "--json",
      ]);
      const url = await json.ready;
      const events = json
        .stdout()
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(events).toMatchObject([
        { event: "offer", peerId: "pne-1", peerType: "PNE" },
        { event: "offer", peerId: "pne-2", peerType: "PNE" },
        { event: "listening", gatewayId: "gw-1", url, endpoint: url, realm: "cpns-gw:gw-1" },
      ]);
      // Issue #13 item 5: times in ISO 8601 in JSON too.
      expect(events[0].expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(events[0].expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);

      // pne-2 is sent to a stand-in that answers anything but cannot compute rspauth.
      const impostor = await startImpostor("challenge");
      try {
        const fooled = await cpns("pne", [
          "peer",
          "connect",
          "--entity",
          "pne-2",
          "--gateway",
          impostor.baseUrl,
          "--message",
          "secret plans",
        ]);
        expectFailure(fooled, "ERR_DIGEST_SERVER_UNAUTHENTICATED");
        expect(fooled.stderr).toContain(`open a peer session with gw-1 at ${impostor.baseUrl}`);
        expect(fooled.stderr).toContain(`OTK ${events[1].otkId} is spent, ask gw-1 for a new one`);
        expect(fooled.stderr).not.toContain("mallory");
      } finally {
        await impostor.close();
      }

      const connect = await cpns("pne", [
        "peer",
        "connect",
        "--entity",
        "pne-1",
        "--message",
        "hi",
        "--via-gateway",
        "whoami",
        "--json",
      ]);
      expectOk(connect);
      const answer = JSON.parse(connect.stdout);
      expect(answer).toEqual({
        entityId: "pne-1",
        otkId: events[0].otkId,
        gatewayId: "gw-1",
        gatewayUrl: url,
        sessionId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        secure: "channel",
        echo: "hi",
        viaGateway: {
          whoami: { entityId: "pne-1", userId: "alice", type: "PNE", keyVersion: 1 },
          realm: "cpns",
        },
        closed: true,
      });
      await outputMatches(json, /"state":"closed"/);

      expect(await json.stop("SIGINT")).toEqual({ code: 0, signal: null });
      const after = json
        .stdout()
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(after.slice(3)).toMatchObject([
        { event: "session", state: "open", peerId: "pne-1", sessionId: answer.sessionId },
        { event: "session", state: "closed", peerId: "pne-1", sessionId: answer.sessionId },
        { event: "stopped", signal: "SIGINT" },
      ]);
      // pne-2's OTK was fetched but never proved here: the offer is still waiting, unused.
      expect(after[after.length - 1].states).toMatchObject([
        { peerId: "pne-1", state: "closed" },
        { peerId: "pne-2", state: "offered" },
      ]);
    },
    T,
  );

  it(
    "[PEERCH-CLI][CLI-FLOWS] peer connect --plain is the explicit weaker mode and says so: Digest alone, readable on the path",
    async () => {
      const plainGateway = serveGateway([
        "--entity",
        "gw-1",
        "--listen",
        "127.0.0.1:0",
        "--offer",
        "pne-1",
      ]);
      await plainGateway.ready;
      const connect = await cpns("pne", [
        "peer",
        "connect",
        "--entity",
        "pne-1",
        "--plain",
        "--message",
        "in clear",
        "--via-gateway",
        "whoami",
      ]);
      expectOk(connect);
      const lines = connect.stdout.trimEnd().split("\n");
      expect(lines[2]).toBe(
        "echo from gw-1 (--plain: Digest only, the message crossed the path readable): in clear",
      );
      expect(lines[3]).toBe(
        `whoami through gw-1's relay (--plain: end to end with pne-1's EUKey, realm "cpns", rspauth verified; the PN GW could read it):`,
      );
      expect(connect.stdout).not.toContain("secure channel");
      expect(await plainGateway.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    },
    T,
  );
});

describe("[FIRSTRUN-REOFFER][CLI-FLOWS] a running PN GW says when an offer expires and offers again", () => {
  it(
    "an OTK that expires unused is announced; `offer <peerId>` typed to the running gateway deposits a new one",
    async () => {
      // 3 s, not 1: expiries are whole seconds and the server refuses one not after its own
      // now, so a 1 s OTK whose deposit crossed a second boundary on a loaded machine was
      // refused (ERR_OTK_EXPIRY) before the gateway listened (seen once in CI).
      const gateway = serveGateway(
        ["--entity", "gw-1", "--listen", "127.0.0.1:0", "--offer", "pne-2", "--otk-lifetime", "3"],
        { stdin: true },
      );
      await gateway.ready;
      const expired = await outputMatches(
        gateway,
        /^OTK (\S+) for pne-2 expired unused at \S+; type "offer pne-2" here to offer another$/m,
        15_000,
      );
      gateway.type("offer pne-2");
      const offers = await outputMatches(
        gateway,
        /^offered an OTK to pne-2 \(PNE\): otk (\S+), expires[^\n]*\n(?:.*\n)*offered an OTK to pne-2 \(PNE\): otk (\S+), expires/m,
        15_000,
      );
      expect(offers[2]).not.toBe(expired[1]);
      gateway.type("frobnicate");
      await waitFor(() => gateway.stderr().includes('commands: "offer <peerId>"'));
      expect(await gateway.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    },
    T,
  );
});

describe("[CLI-FLOWS][SEED-5.x.2-4][PEER-SESSION] no password, HA1, EUKey or OTK escapes", () => {
  it("[CLI-FLOWS][SEED-5.x.2-4][PEER-SESSION] none in any output, the data folder or security.log; the key stores hold their EUKeys only", () => {
    expect([...eukeys.keys()].sort()).toEqual(["gw-1", "pne-1", "pne-2"]);
    const secrets: string[] = [PASSWORD];
    for (const hash of ["SHA-256", "SHA-512-256", "MD5"] as const) {
      secrets.push(computeHa1(ALGORITHMS[hash], "alice", "cpns", PASSWORD));
    }
    for (const eukey of eukeys.values()) secrets.push(eukey, toHex(fromBase64url(eukey)));

    const outputs = transcript.map((text, i) => ({ path: `CLI output #${i}`, text }));
    // The gateway runs and every other command are all in the transcript.
    expect(outputs.some(({ text }) => text.includes("PN GW gw-1 stopped (SIGTERM)"))).toBe(true);
    expect(outputs.some(({ text }) => text.includes('"event":"stopped"'))).toBe(true);
    const places = [
      ...outputs,
      { path: "server output", text: server?.output() ?? "" },
      ...readTree(dataDir),
    ];
    expect(places.some((place) => place.path.endsWith("security.log"))).toBe(true);
    const leaks = places.flatMap(({ path, text }) =>
      secrets.filter((secret) => text.includes(secret)).map(() => path),
    );
    expect(leaks).toEqual([]);

    // The OTKs and session secrets are never known to the test, so look for their
    // shape: 32 bytes or more as base64url (43+ characters) or hex (64). Ids are 16
    // bytes (22 characters); nothing printed is that long.
    const keyShaped = /[A-Za-z0-9_-]{43,}|[0-9a-fA-F]{64}/;
    expect(outputs.filter(({ text }) => keyShaped.test(text)).map(({ path }) => path)).toEqual([]);

    // Each key file holds its own EUKey and no other key-shaped value (no OTK,
    // no session secret was ever written to the device).
    for (const [device, dir] of Object.entries(devices)) {
      for (const { path, text } of readTree(dir)) {
        const record = JSON.parse(text);
        const found = text.match(new RegExp(keyShaped.source, "g")) ?? [];
        expect({ device, path, found }).toEqual({
          device,
          path,
          found: [eukeys.get(record.entityId)],
        });
      }
    }
  });
});
