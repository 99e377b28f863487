// Interop, seed 5.x.2 second bullet (issue #4): third-party HTTP clients as peers of our PN GW.
// curl and Python requests open a peer session with Digest over the OTK (RFC 2617 / RFC 7616,
// realm cpns-gw:<gatewayId>), and curl reaches the CPNS Server through the PN GW's relay as
// through any HTTP proxy (`-x`, absolute-form request target, 407 + Proxy-Authenticate answered
// with `--proxy-digest`), while its own `--digest` to the server goes end to end. Nothing of our
// client code is involved in what the third parties send; the PN GW and server are ours, real,
// on loopback.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { peerSessionSecret } from "../../src/protocol/otk-transport.ts";
import {
  type Device,
  enrollDevice,
  type RunningGateway,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";
import { assertSucceeded, locateBinary, requirePrerequisites, runProcess } from "./helpers.ts";

const CURL = locateBinary("curl", ["/usr/bin/curl"]);
const PYTHON = "/usr/bin/python3";
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "requests_digest.py");
const ALICE = { userId: "alice", password: "alice-password-1" };

let server: TestServer;
beforeAll(async () => {
  // Real clocks: curl and Python cannot be told what time it is.
  server = await startTestServer({ controlledClock: false });
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server?.close());

interface Scene {
  gw: Device;
  pne: Device;
  running: RunningGateway;
  /** The OTK the PNE fetched, base64url: the Digest secret towards the PN GW. */
  otk: Uint8Array;
}

async function scene(prefix: string): Promise<Scene> {
  const gw = await enrollDevice(server, ALICE, `${prefix}-gw`, "PNGW");
  const pne = await enrollDevice(server, ALICE, `${prefix}-pne`, "PNE");
  const running = await startGateway(server, gw, { now: Date.now });
  const offer = await running.gateway.offer(pne.entityId);
  const { otk } = await pne.otks.fetch(pne.entityId, offer.otkId);
  return { gw, pne, running, otk };
}

async function curl(args: string[]) {
  const result = await runProcess(CURL ?? "curl", ["-s", "-i", "--max-time", "20", ...args], {
    env: { ...process.env, NO_PROXY: "", no_proxy: "", http_proxy: "", HTTP_PROXY: "" },
  });
  assertSucceeded(`curl ${args[0]}`, result);
  return result.stdout;
}

/** The header blocks and final body of `curl -i` output (one block per round trip). */
function lastResponse(output: string): { status: number; headers: string; body: string } {
  const blocks = output.split(/\r?\n\r?\n/);
  const body = blocks.pop() ?? "";
  const headers = blocks.at(-1) ?? "";
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1]), headers, body };
}

describe("[SEED-5.x.2-7][PEER-DIGEST] curl as a peer of the PN GW", () => {
  if (!requirePrerequisites(CURL ? [] : ["curl"])) return;

  it("[SEED-5.x.2-7][PEER-DIGEST][PEER-SESSION] curl --digest opens a peer session with the OTK; the PN GW answers with rspauth; the OTK is then used up", async () => {
    const { pne, running, otk } = await scene("curl-open");
    const args = ["--digest", "-u", `${pne.entityId}:${toBase64url(otk)}`, "-X", "POST"];
    const output = await curl([...args, `${running.url}/cpns-gw/v1/sessions`]);
    const last = lastResponse(output);
    expect(last.status).toBe(201);
    expect(last.headers).toMatch(/^authentication-info: .*rspauth="[0-9a-f]{64}"/im);
    expect(JSON.parse(last.body)).toMatchObject({
      peerId: pne.entityId,
      gatewayId: "curl-open-gw",
    });
    expect(running.gateway.states().map((s) => s.state)).toEqual(["open"]);
    // One session per OTK: the same credentials are refused now.
    const again = lastResponse(await curl([...args, `${running.url}/cpns-gw/v1/sessions`]));
    expect(again.status).toBe(401);
    await running.close();
  });

  it("[GATEWAY-RELAY][DIGEST-PROXY][SEED-5.x.2-2] curl -x the PN GW --proxy-digest (session) --digest (EUKey): whoami reaches the server end to end; without session credentials 407", async () => {
    const { pne, running, otk } = await scene("curl-relay");
    const opened = await curl([
      "--digest",
      "-u",
      `${pne.entityId}:${toBase64url(otk)}`,
      "-X",
      "POST",
      `${running.url}/cpns-gw/v1/sessions`,
    ]);
    // Both ends derive the session secret from the opening exchange's nonce and cnonce.
    const nonce = /^www-authenticate: Digest .*?nonce="([^"]+)"/im.exec(opened)?.[1] ?? "";
    const cnonce = /^authentication-info: .*?cnonce="([^"]+)"/im.exec(opened)?.[1] ?? "";
    const { sessionId } = JSON.parse(lastResponse(opened).body) as { sessionId: string };
    const secret = toBase64url(await peerSessionSecret(otk, { nonce, cnonce }));
    const eukey = (await pne.store.get(pne.entityId))?.eukey ?? "";

    const whoami = `${server.url}/cpns/v1/whoami`;
    const relayed = lastResponse(
      await curl([
        "-x",
        running.url,
        "--proxy-digest",
        "-U",
        `${sessionId}:${secret}`,
        "--digest",
        "-u",
        `${pne.entityId}:${eukey}`,
        whoami,
      ]),
    );
    expect(relayed.status).toBe(200);
    expect(JSON.parse(relayed.body)).toMatchObject({ entityId: pne.entityId, type: "PNE" });
    // The server's own proof came back untouched, beside the PN GW's for its hop.
    expect(relayed.headers).toMatch(/^authentication-info: .*rspauth=/im);
    expect(relayed.headers).toMatch(/^proxy-authentication-info: .*rspauth=/im);

    const refused = lastResponse(
      await curl(["-x", running.url, "--digest", "-u", `${pne.entityId}:${eukey}`, whoami]),
    );
    expect(refused.status).toBe(407);
    expect(refused.headers).toMatch(/^proxy-authenticate: Digest realm="cpns-gw:curl-relay-gw"/im);
    expect(JSON.parse(refused.body)).toMatchObject({ code: "ERR_PROXY_UNAUTHORIZED" });
    await running.close();
  });
});

describe("[SEED-5.x.2-7][PEER-DIGEST] Python requests as a peer of the PN GW", () => {
  if (!requirePrerequisites(existsSync(PYTHON) ? [] : ["/usr/bin/python3 with python3-requests"])) {
    return;
  }

  it("[SEED-5.x.2-7][PEER-DIGEST] requests' HTTPDigestAuth opens a peer session with the OTK (201 with Authentication-Info)", async () => {
    const { pne, running, otk } = await scene("py-open");
    const result = await runProcess(PYTHON, [SCRIPT], {
      input: JSON.stringify({
        username: pne.entityId,
        password: toBase64url(otk),
        requests: [{ method: "POST", url: `${running.url}/cpns-gw/v1/sessions` }],
      }),
      timeoutMs: 30_000,
      env: { ...process.env, NO_PROXY: "*", no_proxy: "*", PYTHONNOUSERSITE: "1" },
    });
    assertSucceeded("python3 requests_digest.py", result);
    const [answer] = (
      JSON.parse(result.stdout) as {
        results: Array<{ status: number; body: string; authentication_info: string | null }>;
      }
    ).results;
    expect(answer?.status).toBe(201);
    expect(answer?.authentication_info).toMatch(/rspauth="[0-9a-f]+"/);
    expect(JSON.parse(answer?.body ?? "{}")).toMatchObject({ peerId: pne.entityId });
    expect(running.gateway.states().map((s) => s.state)).toEqual(["open"]);
    await running.close();
  });
});
