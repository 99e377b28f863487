/**
 * Issue #13, live state for OTKs and secure channels on the reviewer page, over real HTTP on
 * loopback and in Debian's chromium: the admin-only state routes (anyone else refused, unknown
 * and malformed ids the same 404, never the sealed key), and /model?watch=<kind>:<id> opening
 * the page on that machine with the live state highlighted, the token never in a URL.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import type { IssuedOtk } from "../../src/agent/otk-client.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { CHROMIUM, CHROMIUM_ARGS, collectConsoleErrors } from "../chromium.ts";
import { type Device, enrollDevice } from "./peer-helpers.ts";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "live-alice", password: "live-alice-password-1" };

let server: TestServer;
let gw: Device;
let pne: Device;
let issued: IssuedOtk;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  gw = await enrollDevice(server, ALICE, "live-gw-1", "PNGW");
  pne = await enrollDevice(server, ALICE, "live-pne-1", "PNE");
  issued = await gw.otks.deposit(gw.entityId, { peerId: pne.entityId, lifetimeSeconds: 120 });
}, 60_000);
afterAll(() => server?.close());

const otkPath = (id: string) => `/cpns/v1/admin/otks/${encodeURIComponent(id)}/state`;
const channelPath = (id: string) => `/cpns/v1/admin/channels/${encodeURIComponent(id)}/state`;

function openChannel(device: Device) {
  return ServerChannel.open({
    agent: device.agent,
    store: device.store,
    entityId: device.entityId,
    serverUrl: server.url,
    now: () => server.clock.now,
  });
}

describe("[PLAY-LIVE-STATE] an OTK's and a secure channel's live state, admin only", () => {
  it("[PLAY-LIVE-STATE] an OTK's state follows it (deposited, then delivered) and never carries the sealed key", async () => {
    const res = await server.admin(otkPath(issued.otkId));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    const view = JSON.parse(text);
    expect(view).toEqual({
      machine: "otk",
      id: issued.otkId,
      value: "deposited",
      context: {
        otkId: issued.otkId,
        issuerId: gw.entityId,
        peerId: pne.entityId,
        issuerKeyVersion: 1,
        expiresAt: issued.expiresAt,
      },
    });
    expect(text).not.toContain(toBase64url(issued.otk));
    await pne.otks.fetch(pne.entityId, issued.otkId);
    const after = await (await server.admin(otkPath(issued.otkId))).json();
    expect(after.value).toBe("delivered");
  });

  it("[PLAY-LIVE-STATE] nobody but the admin: anonymous and a wrong token 401, the OTK's own issuer and addressee 403", async () => {
    for (const path of [otkPath(issued.otkId), channelPath("whatever")]) {
      const anonymous = await server.fetch(path);
      expect(anonymous.status).toBe(401);
      await anonymous.arrayBuffer();
      const wrong = await server.fetch(path, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
      });
      expect(wrong.status).toBe(401);
      await wrong.arrayBuffer();
      for (const device of [gw, pne]) {
        const asEntity = await device.agent.fetchAsEntity(device.entityId, path);
        expect(asEntity.status).toBe(403);
        expect(await asEntity.text()).not.toContain(issued.otkId);
      }
    }
  });

  it("[PLAY-LIVE-STATE] unknown, malformed, hostile and oversized ids are the same 404 problem", async () => {
    const bodies = new Set<string>();
    const hostile = [
      "A".repeat(22),
      "nope",
      "../../admin/users",
      "__proto__",
      "x".repeat(5000),
      "%00",
      issued.otkId.slice(0, -1),
    ];
    for (const id of hostile) {
      for (const path of [otkPath(id), channelPath(id)]) {
        const res = await server.admin(path);
        expect(res.status, `${path.slice(0, 60)}`).toBe(404);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        bodies.add(await res.text());
      }
    }
    expect(bodies.size).toBe(1);
    expect(JSON.parse([...bodies][0] as string)).toMatchObject({ code: "ERR_NOT_FOUND" });
  });

  it("[PLAY-LIVE-STATE] an open secure channel: open, its owner and send epoch; gone once closed", async () => {
    const channel = await openChannel(pne);
    const res = await server.admin(channelPath(channel.sessionId));
    expect(res.status).toBe(200);
    const view = await res.json();
    expect(view).toMatchObject({
      machine: "secureChannelServer",
      id: channel.sessionId,
      value: "open",
      context: { sessionId: channel.sessionId, owner: pne.entityId, sendEpoch: 0 },
    });
    expect(view.context.expiresAtMs).toBeGreaterThan(server.clock.now);
    await channel.close();
    const closed = await server.admin(channelPath(channel.sessionId));
    if (closed.status === 200) expect((await closed.json()).value).toBe("closed");
    else expect(closed.status).toBe(404);
  });
});

describe("[PLAY-WATCH-URL] /model?watch=<kind>:<id> in chromium", () => {
  let browser: Browser;
  let page: Page;
  const requests: Array<{ url: string; auth: string | undefined }> = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run .ci/install-debian.sh`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on("request", (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));
    collectConsoleErrors(page, consoleErrors);
  }, 60_000);
  afterAll(() => browser?.close());

  const live = (machine: string) =>
    page
      .locator(`svg[data-machine="${machine}"] [data-state].live`)
      .evaluateAll((els) => els.map((el) => el.getAttribute("data-state")));

  it("[PLAY-WATCH-URL] without a kept token the page asks for it and sends nothing; with it, the OTK's state is highlighted and kept for the tab", async () => {
    const link = `${server.url}/model?watch=otk:${issued.otkId}`;
    await page.goto(link, { waitUntil: "load" });
    await expect
      .poll(() => page.locator("#live-status").textContent())
      .toContain(`Enter the admin token to watch otk ${issued.otkId}`);
    expect(await page.locator("#live-kind").inputValue()).toBe("otk");
    expect(await page.locator("#live-entity").inputValue()).toBe(issued.otkId);
    expect(requests.filter((r) => r.url.includes("/cpns/v1/admin/"))).toEqual([]);

    await page.fill("#live-token", ADMIN_TOKEN);
    await page.check("#live-keep");
    await page.click("#live-watch");
    await expect.poll(() => live("otk")).toEqual(["otk.delivered"]);
    await page.click("#live-stop");

    // The same link again, in the same tab: the kept token is used, nothing typed.
    await page.goto(link, { waitUntil: "load" });
    await expect.poll(() => live("otk"), { timeout: 10_000 }).toEqual(["otk.delivered"]);
    expect(await page.locator("#live-status").textContent()).toMatch(
      new RegExp(`otk ${issued.otkId} is in otk\\.delivered .*peerId "${pne.entityId}"`),
    );
    // Scrolled to the machine: its diagram is in view.
    expect(
      await page.locator("#machine-otk").evaluate((el) => {
        const box = el.getBoundingClientRect();
        return box.top < window.innerHeight && box.bottom > 0;
      }),
    ).toBe(true);
    await page.click("#live-stop");
    // The token travelled as a header to this server only, never in a URL.
    expect(requests.filter((r) => r.url.includes(ADMIN_TOKEN))).toEqual([]);
    expect(requests.filter((r) => new URL(r.url).origin !== server.url)).toEqual([]);
    expect(
      requests.filter((r) => r.auth !== undefined).every((r) => r.url.includes("/cpns/v1/admin/")),
    ).toBe(true);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it("[PLAY-WATCH-URL] a channel watch highlights the server end's state; an unknown id says so and highlights nothing", async () => {
    const channel = await openChannel(gw);
    await page.goto(`${server.url}/model?watch=channel:${channel.sessionId}`, {
      waitUntil: "load",
    });
    await expect
      .poll(() => live("secureChannelServer"), { timeout: 10_000 })
      .toEqual(["secureChannelServer.open"]);
    await page.click("#live-stop");
    await page.goto(`${server.url}/model?watch=otk:${"Z".repeat(22)}`, { waitUntil: "load" });
    await expect
      .poll(() => page.locator("#live-status").textContent(), { timeout: 10_000 })
      .toContain(`no otk ${"Z".repeat(22)} known to this server`);
    expect(await page.locator("svg [data-state].live").count()).toBe(0);
    await page.click("#live-stop");
    // A watch parameter of an unknown kind is ignored.
    await page.goto(`${server.url}/model?watch=user:alice`, { waitUntil: "load" });
    expect(await page.locator("#live-entity").inputValue()).toBe("");
    await channel.close();
  }, 60_000);
});

describe("[PLAY-SHOT] npm run model:shot", () => {
  const run = promisify(execFile);
  const shot = (args: string[], env: Record<string, string> = {}) =>
    run("npx", ["tsx", "scripts/model-shot.ts", ...args], {
      env: { ...process.env, CPNS_ADMIN_TOKEN: "", ...env },
      timeout: 60_000,
    });

  it("[PLAY-SHOT] screenshots a watch link with the state highlighted, the token from the environment; refuses without it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpns-model-shot-"));
    try {
      const out = join(dir, "otk.png");
      const link = `${server.url}/model?watch=otk:${issued.otkId}`;
      const { stdout } = await shot(["--url", link, "--out", out], {
        CPNS_ADMIN_TOKEN: ADMIN_TOKEN,
      });
      expect(stdout).toMatch(new RegExp(`otk ${issued.otkId} is in otk\\.(deposited|delivered) `));
      const png = readFileSync(out);
      expect(png.length).toBeGreaterThan(10_000);
      expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

      const missing = await shot(["--url", link, "--out", join(dir, "no.png")]).catch((e) => e);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("set CPNS_ADMIN_TOKEN");
      expect(existsSync(join(dir, "no.png"))).toBe(false);

      const wrong = await shot(["--url", link, "--out", join(dir, "wrong.png")], {
        CPNS_ADMIN_TOKEN: `${ADMIN_TOKEN}x`,
      }).catch((e) => e);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/nothing highlighted: HTTP 401/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
