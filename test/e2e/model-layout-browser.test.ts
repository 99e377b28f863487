/**
 * Issue #13: the reviewer page's diagrams as Chromium draws them (Debian's chromium, driven by
 * playwright-core; nothing downloaded), served by a real CPNS Server on a loopback port. The
 * unit tests check the layout's own sampled points; this checks the SVG path data the browser
 * actually renders: for every machine, points taken along each transition's path with
 * getPointAtLength() must lie inside no label's box (its own or another's) and inside no state
 * box but its own source's and target's; the labels and boxes are read from the DOM (getBBox).
 * The diagrams come with the page: no request leaves this server.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { type Browser, chromium } from "playwright-core";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describe as describeModel } from "../../src/reviewer-page/describe.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";

const MODEL = describeModel();
let url = "";
let server: Server;
let browser: Browser | undefined;

beforeAll(async () => {
  const app = createServerApp({
    realm: "cpns-model-layout",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(randomBytes(32)),
    adminToken: "model-layout-admin-token-0123456789",
    digestSecret: randomBytes(32).toString("base64url"),
  });
  const port = await new Promise<number>((resolve) => {
    server = serveNode({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve(info.port),
    ) as Server;
  });
  url = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
});

interface Violation {
  machine: string;
  transition: string;
  hits: string;
}

describe("[LAYOUT-CLEAR-EDGES] the diagrams as Chromium draws them", () => {
  it("[LAYOUT-CLEAR-EDGES][LAYOUT-LIBRARY] no drawn line runs through a label or a box it does not connect, in any machine, and the page asks no other host", async () => {
    const page = await (browser as Browser).newPage();
    const foreign: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(url)) foreign.push(request.url());
    });
    await page.goto(`${url}/model`);
    const found = await page.evaluate(() => {
      const out: Array<{ machine: string; transition: string; hits: string; samples: number }> = [];
      for (const svg of document.querySelectorAll<SVGSVGElement>("svg.machine-diagram")) {
        const machine = svg.dataset.machine ?? "";
        const boxes = [...svg.querySelectorAll<SVGGElement>("g.state")].map((g) => ({
          id: g.dataset.state ?? "",
          r: (g.querySelector("rect.box") as SVGRectElement).getBBox(),
        }));
        const labels = [...svg.querySelectorAll<SVGGElement>("g.transition")].map((g) => ({
          id: g.dataset.transition ?? "",
          r: (g.querySelector("rect.label-bg") as SVGRectElement).getBBox(),
        }));
        const inside = (r: DOMRect, x: number, y: number, by: number) =>
          x > r.x + by && x < r.x + r.width - by && y > r.y + by && y < r.y + r.height - by;
        for (const g of svg.querySelectorAll<SVGGElement>("g.transition")) {
          const path = g.querySelector("path.edge") as SVGPathElement;
          const own = [g.dataset.source, g.dataset.target];
          const total = path.getTotalLength();
          const hits = new Set<string>();
          const samples = Math.ceil(total * 2);
          for (let k = 0; k <= samples; k++) {
            const p = path.getPointAtLength((total * k) / samples);
            for (const l of labels) if (inside(l.r, p.x, p.y, 0.5)) hits.add(`label ${l.id}`);
            for (const b of boxes) {
              if (!own.includes(b.id) && inside(b.r, p.x, p.y, 1)) hits.add(`box ${b.id}`);
            }
          }
          out.push({
            machine,
            transition: g.dataset.transition ?? "",
            hits: [...hits].join(", "),
            samples,
          });
        }
      }
      return out;
    });
    await page.close();
    // Every transition of every machine was measured, along its whole length.
    expect(found.map((f) => f.transition)).toEqual(
      MODEL.machines.flatMap((m) => m.transitions.map((t) => t.id)),
    );
    for (const f of found) expect(f.samples, f.transition).toBeGreaterThan(20);
    const violations: Violation[] = found
      .filter((f) => f.hits !== "")
      .map(({ machine, transition, hits }) => ({ machine, transition, hits }));
    expect(violations).toEqual([]);
    expect(foreign).toEqual([]);
  }, 120_000);
});
