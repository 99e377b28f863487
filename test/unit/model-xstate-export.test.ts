/**
 * Issue #13 (the reviewer page): each machine exported as XState JSON opens in
 * XState itself (`createMachine`, what Stately's editor does with it) as the
 * same machine: the same states, transitions, guards, actions and requirement
 * ids as the definition in machines/. Then the route that serves it.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { createMachine } from "xstate";
import { describeMachine } from "../../src/reviewer-page/describe.ts";
import { MACHINES } from "../../src/reviewer-page/registry.ts";
import { exportableMachineIds, xstateJsonOf } from "../../src/reviewer-page/xstate-export.ts";
import { createServerApp } from "../../src/server/app.ts";

describe("[MODEL-XSTATE-EXPORT] machines as XState JSON", () => {
  it.each(MACHINES.map((entry) => [entry.id, entry] as const))(
    "[MODEL-XSTATE-EXPORT] %s: plain JSON that createMachine() opens as the same machine",
    (_id, entry) => {
      const json = xstateJsonOf(entry.id);
      expect(json).toBeDefined();
      const text = JSON.stringify(json);
      expect(JSON.parse(text)).toEqual(json); // data only: nothing lost in a round trip
      const reopened = createMachine(JSON.parse(text));
      const original = describeMachine(entry);
      const copy = describeMachine({ ...entry, machine: reopened });
      expect(copy.states).toEqual(original.states);
      expect(copy.transitions).toEqual(original.transitions);
      expect(copy.requirements).toEqual(original.requirements);
      expect(String(json?.description)).toContain(entry.source);
    },
  );

  it("[MODEL-XSTATE-EXPORT] every registered machine has an export; an unknown id has none", () => {
    expect(exportableMachineIds()).toEqual(MACHINES.map((entry) => entry.id));
    expect(xstateJsonOf("no-such-machine")).toBeUndefined();
    expect(xstateJsonOf("__proto__")).toBeUndefined();
  });

  it("[MODEL-XSTATE-EXPORT] GET /model/xstate/:machineId serves it to anyone; an unknown id is 404 problem+json; the page links every machine's", async () => {
    const app = createServerApp({
      realm: "cpns-xstate",
      storage: createStorage({ driver: memoryDriver() }),
      masterKey: new Uint8Array(32).fill(3),
      adminToken: "xstate-admin-token-0123456789",
      digestSecret: "xstate-digest-secret-0123456789",
    });
    for (const id of exportableMachineIds()) {
      const res = await app.request(`/model/xstate/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(xstateJsonOf(id));
    }
    const missing = await app.request("/model/xstate/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "ERR_NOT_FOUND" });
    const page = await (await app.request("/model")).text();
    for (const id of exportableMachineIds()) expect(page).toContain(`href="/model/xstate/${id}"`);
  });
});
