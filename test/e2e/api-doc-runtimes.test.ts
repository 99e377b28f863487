/**
 * Issue #13 ("It must run on Node, Deno and Workers"): the real CPNS Server on Deno
 * (`deno run src/runtime/deno.ts`, Deno KV) and on workerd (`wrangler dev` with the
 * production wrangler.toml) serves the same API document as on Node: valid OpenAPI 3.1,
 * the same operations, and its page.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, describe, expect, it } from "vitest";
import { serverDocument } from "../../src/api-doc/server-doc.ts";
import { startDenoServer } from "../conformance/deno-server.ts";
import { startWorkerServer } from "../workers/start.ts";

type Json = Record<string, unknown>;
const closers: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const close of closers) await close();
}, 60_000);

const operationsOf = (doc: Json) =>
  Object.entries(doc.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`))
    .sort();

async function checkServed(baseUrl: string): Promise<void> {
  const res = await fetch(`${baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as Json;
  const result = await new Validator().validate(structuredClone(doc) as never);
  expect(result.errors ?? []).toEqual([]);
  expect(operationsOf(doc)).toEqual(
    operationsOf(serverDocument({ realm: "any" }) as unknown as Json),
  );
  const page = await fetch(`${baseUrl}/api`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
  const html = await page.text();
  expect(html).toContain("/cpns/v1/otks/{otkId}/delivery");
  expect(html).not.toMatch(/<script/i);
}

describe("[OPENAPI-DOC][OPENAPI-PAGE] the document and its page on every runtime", () => {
  it("[OPENAPI-DOC][OPENAPI-PAGE] Deno serves them", async () => {
    const deno = await startDenoServer();
    closers.push(() => deno.close());
    await checkServed(deno.baseUrl);
  }, 180_000);

  it("[OPENAPI-DOC][OPENAPI-PAGE] workerd (the production Worker) serves them", async () => {
    const worker = await startWorkerServer();
    closers.push(() => worker.close());
    await checkServed(worker.baseUrl);
  }, 240_000);
});
