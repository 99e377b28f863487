/**
 * Issue #5: the reviewer page the running CPNS Server serves at GET /model, tested in a real
 * browser (Debian's chromium, driven by playwright-core; no browser is downloaded) against the
 * server on a loopback port (serveNode, memory storage). The page must draw every state and
 * transition of every machine with its requirement ids, need nothing from any other host, raise
 * no console error (so its Content-Security-Policy admits everything it uses), and highlight the
 * live state of a chosen entity as it moves: enrolled (active), then revoked.
 *
 * Set CPNS_SCREENSHOT_DIR to keep the screenshots; by default they go to a temporary folder.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import { describe as describeModel } from "../../src/reviewer-page/describe.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import { createUserSealed } from "../admin-users.ts";
import { CHROMIUM, CHROMIUM_ARGS, collectConsoleErrors, collectRequestUrls } from "../chromium.ts";

const ADMIN_TOKEN = "model-page-admin-token-0123456789";
const USER = { userId: "reviewer-alice", password: "reviewer-alice-password-1" };
const MODEL = describeModel();

let url = "";
let server: Server;
let tempDir = "";
let shots = "";

beforeAll(async () => {
  const app = createServerApp({
    realm: "cpns-model-page",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(randomBytes(32)),
    adminToken: ADMIN_TOKEN,
    digestSecret: randomBytes(32).toString("base64url"),
  });
  const port = await new Promise<number>((resolve) => {
    server = serveNode({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve(info.port),
    ) as Server;
  });
  url = `http://127.0.0.1:${port}`;
  tempDir = mkdtempSync(join(tmpdir(), "cpns-model-page-"));
  shots = process.env.CPNS_SCREENSHOT_DIR || join(tempDir, "shots");
  mkdirSync(shots, { recursive: true });
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});

const admin = (path: string, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  return fetch(`${url}${path}`, { ...init, headers });
};

async function createUser(userId: string, password: string): Promise<void> {
  const res = await createUserSealed({
    transport: (request) => fetch(request),
    base: url,
    adminToken: ADMIN_TOKEN,
    userId,
    password,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  await res.arrayBuffer();
}

async function enroll(entityId: string): Promise<void> {
  const agent = new EntityAgent({ serverUrl: url, store: new MemoryKeyStore() });
  const record = await agent.enroll({ ...USER, entityId, type: "PNE" });
  expect(record.keyVersion).toBe(1);
}

function expectPng(path: string): void {
  const bytes = readFileSync(path);
  expect(bytes.length).toBeGreaterThan(1000);
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
}

describe("[SPEC-MODEL-PAGE] the model routes over HTTP", () => {
  it("[SPEC-MODEL-PAGE] GET /model/machines.json serves describe() of every registered machine", async () => {
    const res = await fetch(`${url}/model/machines.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(MODEL)));
  });

  it("[CHMODEL-PAGE][SPEC-MODEL-PAGE] both secure-channel machines are served and drawn: every state and transition, in machines.json and as an SVG in the page", async () => {
    const served = (await (await fetch(`${url}/model/machines.json`)).json()) as {
      machines: Array<{ id: string; states: Array<{ id: string }>; transitions: unknown[] }>;
    };
    const html = await (await fetch(`${url}/model`)).text();
    const expected = {
      secureChannelClient: ["establishing", "open", "closing", "closed", "expired", "failed"],
      secureChannelServer: ["establishing", "open", "closing", "closed", "expired"],
    };
    for (const [id, states] of Object.entries(expected)) {
      const machine = served.machines.find((m) => m.id === id);
      expect(machine, id).toBeDefined();
      expect(machine?.states.map((s) => s.id).sort()).toEqual(
        states.map((s) => `${id}.${s}`).sort(),
      );
      const described = MODEL.machines.find((m) => m.id === id);
      expect(machine?.transitions).toHaveLength(described?.transitions.length ?? -1);
      // Drawn on the page itself (the SVG is in the HTML, not fetched), each state once.
      expect(html).toContain(`data-machine="${id}"`);
      for (const state of states) expect(html).toContain(`data-state="${id}.${state}"`);
    }
  });

  it("[SPEC-MODEL-PAGE] GET /model is HTML under a strict Content-Security-Policy (own origin, hashed inline code)", async () => {
    const res = await fetch(`${url}/model`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp.split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("script-src")).toEqual([
      expect.stringMatching(/^'sha256-[A-Za-z0-9+/]+=*'$/),
    ]);
    expect(directives.get("style-src")).toEqual([
      expect.stringMatching(/^'sha256-[A-Za-z0-9+/]+=*'$/),
    ]);
    expect(csp).not.toMatch(/unsafe|\*|https?:|data:/);
    const html = await res.text();
    expect(html).not.toMatch(/\s(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/\sstyle="/);
  });

  it("[SPEC-MODEL-PAGE] GET /cpns/v1/admin/entities/:entityId/state: admin only, 404 problem for an unknown entity", async () => {
    const anonymous = await fetch(`${url}/cpns/v1/admin/entities/nobody/state`);
    expect(anonymous.status).toBe(401);
    await anonymous.arrayBuffer();
    const wrong = await fetch(`${url}/cpns/v1/admin/entities/nobody/state`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
    });
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    const unknown = await admin("/cpns/v1/admin/entities/nobody/state");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await unknown.json()).toMatchObject({ status: 404, code: "ERR_NOT_FOUND" });
  });
});

describe("[SPEC-MODEL-PAGE] the reviewer page in Debian's chromium (playwright-core)", () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: run .ci/install-debian.sh (apt-get install chromium)`,
      );
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    collectRequestUrls(page, requests);
    collectConsoleErrors(page, consoleErrors);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("[SPEC-MODEL-PAGE] draws every state and transition of every machine, titled with requirement ids, from this server alone", async () => {
    const res = await page.goto(`${url}/model`);
    expect(res?.status()).toBe(200);
    await page.waitForLoadState("networkidle");

    for (const machine of MODEL.machines) {
      const svg = page.locator(`svg[data-machine="${machine.id}"]`);
      await expect(svg.count()).resolves.toBe(1);
      const drawn = await svg
        .locator("[data-state]")
        .evaluateAll((els) => els.map((el) => el.getAttribute("data-state")));
      expect(drawn.sort()).toEqual(machine.states.map((s) => s.id).sort());

      const transitions = await svg.locator("[data-transition]").evaluateAll((els) =>
        els.map((el) => ({
          id: el.getAttribute("data-transition"),
          title: el.querySelector(":scope > title")?.textContent ?? "",
          label: el.querySelector("text.label")?.textContent ?? "",
        })),
      );
      expect(transitions.map((t) => t.id).sort()).toEqual(
        machine.transitions.map((t) => t.id).sort(),
      );
      for (const t of machine.transitions) {
        const drawnT = transitions.find((d) => d.id === t.id);
        expect(drawnT?.label).toBe(t.guard ? `${t.event} [${t.guard}]` : t.event);
        const listed = /Requirements: (.*)$/m.exec(drawnT?.title ?? "")?.[1] ?? "";
        if (t.requirements.length > 0) expect(listed.split(", ")).toEqual(t.requirements);
        else expect(listed).toMatch(/none/);
      }
      // The table lists the same transitions with their requirement ids.
      const rows = page.locator(`#machine-${machine.id} table.transitions tbody tr`);
      await expect(rows.count()).resolves.toBe(machine.transitions.length);
    }
    // At least the enrolment transition carries seed requirement ids (machines/entity.ts).
    const enroll = page.locator('[data-transition="entity.unassigned:ENROLL"] > title');
    await expect(enroll.textContent()).resolves.toMatch(/Requirements: .*SEED-5\.x\.1-1/);

    const shot = join(shots, "model-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    expectPng(shot);

    expect(consoleErrors).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => new URL(r).origin !== url)).toEqual([]);
  }, 60_000);

  it("[SPEC-MODEL-PAGE][ENTITY-LIFECYCLE] highlights a watched entity's live state: entity.active after enrolment, entity.revoked after revocation", async () => {
    await createUser(USER.userId, USER.password);
    const entityId = "reviewer-watch-1";
    await enroll(entityId);

    await page.goto(`${url}/model`);
    await page.fill("#live-token", ADMIN_TOKEN);
    await page.fill("#live-entity", entityId);
    await page.click("#live-watch");

    const live = page.locator('svg[data-machine="entity"] [data-state].live');
    await page.waitForSelector('svg[data-machine="entity"] [data-state="entity.active"].live', {
      timeout: 10_000,
    });
    await expect(
      live.evaluateAll((els) => els.map((el) => el.getAttribute("data-state"))),
    ).resolves.toEqual(["entity.active"]);
    await expect(page.locator("#live-status").textContent()).resolves.toMatch(
      /reviewer-watch-1 is in entity\.active .*key version 1/,
    );
    // The transitions out of the live state are marked too.
    const enabled = await page
      .locator('svg[data-machine="entity"] .transition.enabled')
      .evaluateAll((els) => els.map((el) => el.getAttribute("data-source")));
    expect(enabled.length).toBeGreaterThan(0);
    expect(new Set(enabled)).toEqual(new Set(["entity.active"]));
    const shot = join(shots, "model-page-live.png");
    await page.screenshot({ path: shot, fullPage: true });
    expectPng(shot);

    // The owner revokes the entity; the page's next refresh (every 2 s) moves the highlight.
    const asOwner = createDigestFetch({ ...USER, username: USER.userId, requireRspauth: true });
    const revoked = await asOwner(`${url}/cpns/v1/entities/${entityId}`, { method: "DELETE" });
    expect(revoked.status, await revoked.clone().text()).toBe(200);
    await revoked.arrayBuffer();
    await page.waitForSelector('svg[data-machine="entity"] [data-state="entity.revoked"].live', {
      timeout: 10_000,
    });
    await expect(
      live.evaluateAll((els) => els.map((el) => el.getAttribute("data-state"))),
    ).resolves.toEqual(["entity.revoked"]);
    await page.screenshot({ path: join(shots, "model-page-revoked.png"), fullPage: true });

    await page.click("#live-stop");
    await expect(live.count()).resolves.toBe(0);

    expect(consoleErrors).toEqual([]);
    expect(requests.filter((r) => new URL(r).origin !== url)).toEqual([]);
    // The token went only to the state route, as a header: never in a URL.
    expect(requests.filter((r) => r.includes(ADMIN_TOKEN))).toEqual([]);
  }, 60_000);
});
