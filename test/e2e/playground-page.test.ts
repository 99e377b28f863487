/**
 * Issue #13, the reviewer page as a place to play the protocol, in a real browser (Debian's
 * chromium through playwright-core) against the CPNS Server on a loopback port: the simulation
 * panel drives machines (events accepted, refused by their guard, greyed where the state has no
 * transition, the context diff, undo and reset) and no record of the server changes meanwhile.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIREMENT_INDEX } from "../../src/reviewer-page/requirement-index.ts";
import { EXAMPLE_NOW } from "../../src/reviewer-page/sim-examples.ts";
import { CHROMIUM, CHROMIUM_ARGS, collectConsoleErrors, collectRequestUrls } from "../chromium.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

let url = "";
let server: TestServer;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run .ci/install-debian.sh`);
  server = await startTestServer({ controlledClock: false });
  url = server.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  collectRequestUrls(page, requests);
  collectConsoleErrors(page, consoleErrors);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function everything(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await server.storage.getKeys()) out[key] = await server.storage.getItem(key);
  return out;
}

const resultText = () => page.locator("#sim-result").textContent();
const stateText = () => page.locator("#sim-value").textContent();

async function pick(event: string): Promise<void> {
  await page.locator(`#sim-events button[data-event="${event}"]`).click();
}

describe("[PLAY-SIM-PAGE] the simulation panel in chromium", () => {
  it("[PLAY-SIM-PAGE][PLAY-SIM-PURE] an OTK: refused events greyed with why, a guard refusing a late deposit, then deposit and delivery; no record changes", async () => {
    await server.createUser("sim-alice", "sim-alice-password-1"); // asserts 201
    const before = await everything();
    expect(Object.keys(before).length).toBeGreaterThan(0);

    await page.goto(`${url}/model#simulate`, { waitUntil: "load" });
    await page.selectOption("#sim-machine", "otk");
    const input = JSON.parse(await page.locator("#sim-input").inputValue());
    expect(input).toMatchObject({ otkId: "otk-1", expiresAt: EXAMPLE_NOW + 300 });
    await page.click("#sim-start");
    await expect.poll(stateText).toBe("otk.created");
    // The state is highlighted on the panel's copy of the diagram and on the machine's own.
    expect(await page.locator('#sim-diagram [data-state="otk.created"].sim').count()).toBe(1);
    expect(await page.locator('#machine-otk [data-state="otk.created"].sim').count()).toBe(1);

    const consume = page.locator('#sim-events button[data-event="CONSUME"]');
    expect(await consume.isDisabled()).toBe(true);
    expect(await consume.textContent()).toContain("not handled in created");
    const deposit = page.locator('#sim-events button[data-event="DEPOSIT"]');
    expect(await deposit.isDisabled()).toBe(false);
    expect(await deposit.textContent()).toContain("[mayDeposit]");

    await pick("DEPOSIT");
    const payload = JSON.parse(await page.locator("#sim-payload").inputValue());
    expect(payload).toMatchObject({ issuerType: "PNGW", now: EXAMPLE_NOW });
    // The reviewer sets the time: past the OTK's expiry, the guard refuses.
    await page.fill("#sim-payload", JSON.stringify({ ...payload, now: EXAMPLE_NOW + 301 }));
    await page.click("#sim-send");
    await expect.poll(resultText).toContain("DEPOSIT refused: guard refused: mayDeposit");
    expect(await page.locator("#sim-result").getAttribute("data-kind")).toBe("refused");
    expect(await stateText()).toBe("otk.created");

    await page.fill("#sim-payload", JSON.stringify(payload));
    await page.click("#sim-send");
    await expect.poll(stateText).toBe("otk.deposited");
    expect(await resultText()).toContain("OTK-DEPOSIT");
    expect(await page.locator('#sim-diagram [data-state="otk.deposited"].sim').count()).toBe(1);
    expect(await page.locator('#sim-diagram [data-state="otk.created"].sim').count()).toBe(0);
    expect(await page.locator("#sim-diagram .transition.sim-taken").count()).toBe(1);

    await pick("DELIVER");
    await page.click("#sim-send");
    await expect.poll(stateText).toBe("otk.delivered");
    expect(await page.locator("#sim-history li").allInnerTexts()).toEqual([
      "start: created",
      "DEPOSIT \u2192 deposited",
      "DELIVER \u2192 delivered",
    ]);
    // Nothing the simulation did reached the server's records.
    expect(await everything()).toEqual(before);
    expect(requests.filter((r) => !r.startsWith(url))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it("[PLAY-SIM-PAGE] an entity: the context diff marks what changed; undo and reset go back; bad JSON and wrong types are told, not sent", async () => {
    await page.goto(`${url}/model`, { waitUntil: "load" });
    await page.selectOption("#sim-machine", "entity");
    await page.fill("#sim-input", JSON.stringify({ entityId: "pne-sim" }));
    await page.click("#sim-start");
    await expect.poll(stateText).toBe("entity.unassigned");
    await pick("ENROLL");
    await page.click("#sim-send");
    await expect.poll(stateText).toBe("entity.active");
    const changed = await page
      .locator("#sim-context tr.changed")
      .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.field));
    expect(changed.sort()).toEqual(["entityType", "keyVersion", "userId"]);
    expect(
      await page.locator('#sim-context tr[data-field="keyVersion"] td').allInnerTexts(),
    ).toEqual(["keyVersion", "0", "1"]);
    await pick("ROTATE");
    await page.click("#sim-send");
    await expect.poll(() => page.locator("#sim-history li").count()).toBe(3);

    await page.click("#sim-undo");
    await expect.poll(() => page.locator("#sim-history li").count()).toBe(2);
    expect(await stateText()).toBe("entity.active");
    expect(
      await page.locator('#sim-context tr[data-field="keyVersion"] td').last().textContent(),
    ).toBe("1");
    await page.click("#sim-reset");
    await expect.poll(stateText).toBe("entity.unassigned");
    expect(await page.locator("#sim-undo").isDisabled()).toBe(true);

    // A payload that is not JSON never leaves the page; one of the wrong type is the server's 400.
    await pick("ENROLL");
    await page.fill("#sim-payload", "{oops");
    await page.click("#sim-send");
    await expect.poll(resultText).toContain("not valid JSON");
    await pick("ENROLL");
    await page.fill("#sim-payload", JSON.stringify({ userId: 42, entityType: "PNE" }));
    await page.click("#sim-send");
    await expect.poll(resultText).toContain("ERR_SIM_EVENT_INVALID");
    expect(await stateText()).toBe("entity.unassigned");
    expect(consoleErrors.filter((e) => !e.includes("400"))).toEqual([]);
  }, 60_000);

  it("[PLAY-SIM-PAGE] every machine starts from its example input and a final state greys every event", async () => {
    await page.goto(`${url}/model`, { waitUntil: "load" });
    const machines = await page
      .locator("#sim-machine option")
      .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(machines).toHaveLength(7);
    for (const machine of machines) {
      await page.selectOption("#sim-machine", machine);
      await page.click("#sim-start");
      await expect.poll(stateText).toMatch(new RegExp(`^${machine}\\.`));
    }
    await page.selectOption("#sim-machine", "otk");
    await page.click("#sim-start");
    await expect.poll(stateText).toBe("otk.created");
    await pick("DEPOSIT");
    await page.click("#sim-send");
    await expect.poll(stateText).toBe("otk.deposited");
    await pick("EXPIRE");
    await page.click("#sim-send");
    await expect.poll(stateText).toBe("otk.expired (final)");
    const buttons = page.locator("#sim-events button");
    expect(await buttons.count()).toBe(6);
    expect(await page.locator("#sim-events button:not([disabled])").count()).toBe(0);
    expect(await buttons.first().getAttribute("title")).toBe("final state");
  }, 60_000);
});

describe("[PLAY-REQ-CHIPS] requirement chips in chromium", () => {
  it("[PLAY-REQ-CHIPS] a chip's tooltip is the statement; following it shows the statement, the test files and the code files", async () => {
    await page.goto(`${url}/model`, { waitUntil: "load" });
    const chip = page
      .locator('#machine-otk table.transitions a.req[href="#req-OTK-DEPOSIT"]')
      .first();
    const entry = REQUIREMENT_INDEX["OTK-DEPOSIT"];
    expect(entry).toBeDefined();
    expect(await chip.getAttribute("title")).toBe(`OTK-DEPOSIT: ${entry?.text}`);
    await chip.click();
    await expect.poll(() => page.evaluate(() => location.hash)).toBe("#req-OTK-DEPOSIT");
    const details = page.locator('dd[data-requirement="OTK-DEPOSIT"]');
    expect(await details.locator(".req-text").textContent()).toBe(entry?.text);
    const paths = await details.locator(".path").allTextContents();
    for (const file of [...(entry?.tests ?? []), ...(entry?.code ?? [])])
      expect(paths).toContain(file);
    expect(paths).toContain("test/e2e/server-otks.test.ts");
    expect(await details.locator("a.path").count()).toBe(0); // no CPNS_SOURCE_URL: paths, not links
    // Every chip on the page that names an indexed id carries its statement.
    const untitled = await page
      .locator("a.req")
      .evaluateAll((chips) =>
        chips.filter((c) => !c.getAttribute("title")).map((c) => c.outerHTML),
      );
    expect(untitled).toEqual([]);
    expect(consoleErrors.filter((e) => !e.includes("400"))).toEqual([]);
  }, 60_000);
});
