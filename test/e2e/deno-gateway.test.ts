/**
 * Issue #11: the PN GW on Deno (src/runtime/deno-gateway.ts) with real Deno
 * (node_modules/.bin/deno, --allow-net --allow-env --allow-read), a real CPNS Server on
 * loopback (Node, plain HTTP) and a real PNE: the gateway's EUKey is read from the key store
 * folder the CLI's store writes (src/runtime/node-keystore.ts), the gateway deposits an OTK
 * when told on standard input, the PNE fetches it, the two authenticate each other with
 * Digest over the OTK (rspauth required), exchange a message, and the PNE reaches the server
 * through the Deno-hosted relay with its own end-to-end Digest. From the attacker's side: the
 * used OTK opens no second session, and a key store others may read is refused.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerSession } from "../../src/agent/peer.ts";
import { digestExchangeOf } from "../../src/digest/index.ts";
import { NodeKeyStore } from "../../src/runtime/node-keystore.ts";
import { connectPeer, enrollDevice, relayedAgent } from "./peer-helpers.ts";
import { REPO_ROOT, startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-1" };
const STARTUP_MS = 120_000;

interface DenoGateway {
  child: ChildProcess;
  /** The next JSON line on standard output that has `key`. */
  next(key: string): Promise<Record<string, unknown>>;
  send(line: string): void;
  output(): string;
  exited: Promise<number | null>;
}

function startDenoGateway(env: Record<string, string>): DenoGateway {
  const child = spawn(
    join(REPO_ROOT, "node_modules/.bin/deno"),
    [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--no-prompt",
      "src/runtime/deno-gateway.ts",
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        DENO_NO_PROMPT: "1",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let log = "";
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    log += `${line}\n`;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.on("data", (chunk) => {
    log += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => log,
    send: (line) => child.stdin?.write(`${line}\n`),
    next: async (key) => {
      for (;;) {
        const index = lines.findIndex((line) => key in line);
        if (index >= 0) return lines.splice(index, 1)[0] as Record<string, unknown>;
        const woken = new Promise<void>((resolve) => waiters.push(resolve));
        const code = await Promise.race([woken.then(() => "line" as const), exited]);
        if (code !== "line") throw new Error(`deno gateway exited (${code}):\n${log}`);
      }
    },
  };
}

let server: TestServer;
let keystore: string;

beforeAll(async () => {
  // The real clock: the Deno gateway dates its OTKs by Date.now.
  server = await startTestServer({ controlledClock: false });
  server.clock.now = Date.now();
  await server.createUser(ALICE.userId, ALICE.password);
  keystore = await mkdtemp(join(tmpdir(), "cpns-deno-gw-"));
}, STARTUP_MS);

afterAll(async () => {
  await server?.close();
  if (keystore) await rm(keystore, { recursive: true, force: true });
});

describe("[FLEET-SHELL-DENO-GW] the PN GW on Deno (Deno.serve) against a Node CPNS Server", () => {
  it(
    "[FLEET-SHELL-DENO-GW][PEER-DIGEST][PEER-SESSION][GATEWAY-RELAY] offer, mutual Digest, a message and the relay through a Deno-hosted PN GW; the used OTK opens nothing more",
    async () => {
      // The gateway enrolls into a key store folder in the CLI's format (files 0600, folder 0700).
      const gwStore = new NodeKeyStore(join(keystore, "gw"));
      await server.agent({ store: gwStore as never }).enroll({
        ...ALICE,
        entityId: "deno-gw",
        type: "PNGW",
      });
      const pne = await enrollDevice(server, ALICE, "deno-pne", "PNE");
      const gateway = startDenoGateway({
        CPNS_GATEWAY_ID: "deno-gw",
        CPNS_KEYSTORE: gwStore.dir,
        PORT: "0",
        HOST: "127.0.0.1",
      });
      try {
        const listening = await gateway.next("listening");
        const url = String(listening.listening);
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(listening).toMatchObject({
          gatewayId: "deno-gw",
          serverUrl: server.url,
          endpoint: url,
        });
        // Nothing of the key reaches the output.
        const record = await gwStore.get("deno-gw");
        expect(gateway.output()).not.toContain(record?.eukey);

        const info = await fetch(`${url}/cpns-gw/v1`);
        expect(await info.json()).toMatchObject({ service: "cpns-gw", gatewayId: "deno-gw" });
        const unknown = await fetch(`${url}/no-such-route`);
        expect(unknown.status).toBe(404);
        expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);

        gateway.send("offer deno-pne");
        const { offer } = await gateway.next("offer");
        expect(offer).toMatchObject({ peerId: "deno-pne", peerType: "PNE" });

        server.clock.now = Date.now();
        const { session, received } = await connectPeer(server, pne, "deno-gw");
        expect(received.view.endpoint).toBe(url);
        expect(session.state).toBe("open");
        expect(await session.send("hello deno")).toEqual({
          sessionId: session.sessionId,
          from: "deno-pne",
          echo: "hello deno",
        });

        const viaRelay = relayedAgent(server, pne, session);
        const res = await viaRelay.fetchAsEntity("deno-pne", "/cpns/v1/whoami");
        expect(res.status).toBe(200);
        expect(digestExchangeOf(res)?.realm).toBe("cpns-e2e");
        expect(await res.json()).toMatchObject({ entityId: "deno-pne", type: "PNE" });

        // The attacker who captured the OTK (here: the peer's own copy) cannot open a second session.
        await expect(
          PeerSession.open({ entityId: "deno-pne", received, now: () => Date.now() }),
        ).rejects.toThrow();

        gateway.send("states");
        const { states } = await gateway.next("states");
        expect((states as Array<{ state: string }>).map((s) => s.state)).toEqual(["open"]);
        await session.close();
      } finally {
        gateway.child.kill("SIGTERM");
        await gateway.exited;
      }
    },
    STARTUP_MS * 2,
  );

  it(
    "[FLEET-SHELL-DENO-GW] a key store others may read is refused, and the refusal never prints the key",
    async () => {
      const store = new NodeKeyStore(join(keystore, "open"));
      await server.agent({ store: store as never }).enroll({
        ...ALICE,
        entityId: "deno-gw-open",
        type: "PNGW",
      });
      const record = await store.get("deno-gw-open");
      await chmod(store.fileOf("deno-gw-open"), 0o644);
      const gateway = startDenoGateway({
        CPNS_GATEWAY_ID: "deno-gw-open",
        CPNS_KEYSTORE: store.dir,
        PORT: "0",
      });
      expect(await gateway.exited).toBe(1);
      expect(gateway.output()).toMatch(/may be read by others/);
      expect(gateway.output()).not.toContain(record?.eukey);
    },
    STARTUP_MS,
  );
});
