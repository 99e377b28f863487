/**
 * Issue #13 ("a readable page served by the project itself (no CDN)"): GET /api of a real
 * CPNS Server and a real PN GW on loopback, rendered in Debian's Chromium (playwright-core,
 * as test/e2e/model-page.test.ts does). The page shows every operation of the document its
 * app serves, with who may call it and its qop; the browser asks no other host for anything
 * and reports no CSP violation; and a hostile string in the document is shown, never run.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderApiPage } from "../../src/api-doc/page.ts";
import { serverDocument } from "../../src/api-doc/server-doc.ts";
import { CHROMIUM, CHROMIUM_ARGS, collectConsoleErrors, collectRequestUrls } from "../chromium.ts";
import { enrollDevice, type RunningGateway, startGateway } from "./peer-helpers.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

const OWNER = { userId: "page-carol", password: "page-carol-password-1" };

let server: TestServer;
let gw: RunningGateway;
let browser: Browser;
let page: Page;
const requests: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run .ci/install-debian.sh (apt-get install chromium)`);
  }
  server = await startTestServer();
  await server.createUser(OWNER.userId, OWNER.password);
  gw = await startGateway(server, await enrollDevice(server, OWNER, "page-gw", "PNGW"));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  collectRequestUrls(page, requests);
  collectConsoleErrors(page, consoleErrors);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await server?.close();
});

type Json = Record<string, unknown>;

async function documented(
  base: string,
): Promise<Array<{ method: string; path: string; op: Json }>> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Json;
  return Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

describe("[OPENAPI-PAGE] the API page in a real browser", () => {
  for (const which of ["server", "gateway"] as const) {
    it(`[OPENAPI-PAGE] the ${which}'s /api shows every documented operation, from this host alone`, async () => {
      const base = which === "server" ? server.url : gw.url;
      requests.length = 0;
      consoleErrors.length = 0;
      const res = await page.goto(`${base}/api`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()["content-security-policy"]).toMatch(/default-src 'none'/);
      await page.waitForLoadState("networkidle");
      const ops = await documented(base);
      const shown = await page
        .locator("section.op")
        .evaluateAll((els) =>
          els.map((el) => `${el.getAttribute("data-method")} ${el.getAttribute("data-path")}`),
        );
      expect(shown.sort()).toEqual(ops.map((o) => `${o.method} ${o.path}`).sort());
      for (const { op } of ops) {
        const section = page.locator(`section.op[id="op-${String(op.operationId)}"]`);
        await expect(section.count()).resolves.toBe(1);
        const text = (await section.textContent()) ?? "";
        expect(text).toContain(String(op.summary));
        if (op["x-cpns-qop"] !== undefined)
          expect(text).toContain(JSON.stringify(op["x-cpns-qop"]));
        if (op["x-cpns-allow"] !== undefined) expect(text).toContain("x-cpns-allow");
        for (const status of Object.keys(op.responses as Json)) expect(text).toContain(status);
      }
      // The security schemes in words, Digest first among them.
      await expect(page.locator("body").textContent()).resolves.toMatch(/http digest/);
      // The stylesheet applied (its hash matched the CSP): a section has its border.
      const border = await page
        .locator("section.op")
        .first()
        .evaluate((el) => getComputedStyle(el).borderTopStyle);
      expect(border).toBe("solid");
      const origin = new URL(base).origin;
      const elsewhere = requests.filter(
        (u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"),
      );
      expect(elsewhere).toEqual([]);
      expect(consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
    }, 60_000);
  }

  it("[OPENAPI-PAGE] a hostile realm in the document is shown as text, never run", async () => {
    const hostile = `</td><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;
    const { html, csp } = renderApiPage(serverDocument({ realm: hostile }));
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    await page.setContent(html);
    await expect(
      page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned),
    ).resolves.toBeUndefined();
    await expect(page.locator("body").textContent()).resolves.toContain("window.__pwned=1");
    expect(csp).not.toMatch(/script-src/);
  });
});
