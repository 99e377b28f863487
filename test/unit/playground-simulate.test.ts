/**
 * Issue #13, simulation mode of the reviewer page: POST /model/simulate/:machineId steps a
 * sandbox copy of any machine with xstate's pure transition() and keeps nothing. Tested from
 * both sides: a reviewer walking machines through their lifecycles (accepted, refused by a
 * guard, refused for want of a transition, final), and an attacker sending oversized, deep,
 * mistyped or unknown things, who gets problem+json with a stable code and changes no record.
 */
import { createStorage, type Storage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { beforeEach, describe, expect, it } from "vitest";
import { MACHINES } from "../../src/reviewer-page/registry.ts";
import { EXAMPLE_NOW, SIM_EXAMPLES } from "../../src/reviewer-page/sim-examples.ts";
import { type SimAnswer, simulate } from "../../src/reviewer-page/simulate.ts";
import { createServerApp } from "../../src/server/app.ts";

const ADMIN = "simulate-admin-token-0123456789";
let storage: Storage;
let app: ReturnType<typeof createServerApp>;

beforeEach(() => {
  storage = createStorage({ driver: memoryDriver() });
  app = createServerApp({
    realm: "cpns-simulate",
    storage,
    masterKey: new Uint8Array(32).fill(7),
    adminToken: ADMIN,
    digestSecret: "simulate-digest-secret-0123456789",
  });
});

const post = (machineId: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(`/model/simulate/${machineId}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function everything(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await storage.getKeys()) out[key] = await storage.getItem(key);
  return out;
}

/** Walk `events` from the machine's example input, each step from the last answer's snapshot. */
function walk(machineId: string, events: Array<Record<string, unknown>>): SimAnswer[] {
  let answer = simulate(machineId, {});
  const answers = [answer];
  for (const event of events) {
    answer = simulate(machineId, { snapshot: answer.snapshot, event });
    answers.push(answer);
  }
  return answers;
}

describe("[PLAY-SIM-PURE] one step of a sandbox copy", () => {
  it("[PLAY-SIM-PURE] every machine starts from its example input in its initial state, listing all its events", () => {
    for (const { id, machine } of MACHINES) {
      const answer = simulate(id, {});
      expect(answer.machine).toBe(id);
      expect(`${id}.${answer.snapshot.value}`).toBe(`${id}.${String(machine.config.initial)}`);
      expect(answer.step).toBeNull();
      expect(answer.events.map((e) => e.type).sort()).toEqual(
        Object.keys(SIM_EXAMPLES[id]?.events ?? {}).sort(),
      );
      expect(answer.events.some((e) => e.handled)).toBe(true);
    }
  });

  it("[PLAY-SIM-PURE] every event type any state of a machine handles has a typed example, and no other", () => {
    for (const { id, machine } of MACHINES) {
      const handled = new Set<string>();
      for (const node of Object.values(machine.root.states)) {
        for (const type of (node as { transitions: Map<string, unknown> }).transitions.keys()) {
          handled.add(type);
        }
      }
      expect(Object.keys(SIM_EXAMPLES[id]?.events ?? {}).sort(), id).toEqual([...handled].sort());
    }
  });

  it("[PLAY-SIM-PURE] an OTK walks deposited, delivered, consumed, with the requirement ids of each step, and is final", () => {
    const ev = SIM_EXAMPLES.otk?.events ?? {};
    const answers = walk("otk", [
      { type: "DEPOSIT", ...ev.DEPOSIT },
      { type: "DELIVER", ...ev.DELIVER },
      { type: "CONSUME", ...ev.CONSUME },
    ]);
    expect(answers.map((a) => a.snapshot.value)).toEqual([
      "created",
      "deposited",
      "delivered",
      "consumed",
    ]);
    expect(answers[1]?.step).toMatchObject({ accepted: true, target: "otk.deposited" });
    expect(answers[1]?.step?.requirements).toContain("OTK-DEPOSIT");
    expect(answers[3]?.snapshot.status).toBe("done");
    const after = simulate("otk", {
      snapshot: answers[3]?.snapshot,
      event: { type: "EXPIRE", now: EXAMPLE_NOW + 10_000 },
    });
    expect(after.step).toMatchObject({ accepted: false, target: null });
    expect(after.step?.reason).toMatch(/final/);
    expect(after.snapshot).toEqual(answers[3]?.snapshot);
  });

  it("[PLAY-SIM-PURE] a guard that says no refuses the event by name and leaves the snapshot as it was; time is the reviewer's", () => {
    const ev = SIM_EXAMPLES.otk?.events ?? {};
    const created = simulate("otk", {});
    // Too late: the reviewer's `now` is past the OTK's expiry. The server's clock plays no part.
    const late = simulate("otk", {
      snapshot: created.snapshot,
      event: { type: "DEPOSIT", ...ev.DEPOSIT, now: EXAMPLE_NOW + 301 },
    });
    expect(late.step).toMatchObject({ accepted: false, reason: "guard refused: mayDeposit" });
    expect(late.snapshot).toEqual(created.snapshot);
    const onTime = simulate("otk", {
      snapshot: created.snapshot,
      event: { type: "DEPOSIT", ...ev.DEPOSIT, now: EXAMPLE_NOW + 299 },
    });
    expect(onTime.snapshot.value).toBe("deposited");
    // Not handled in this state at all: listed, greyed, and refused as such.
    const consume = created.events.find((e) => e.type === "CONSUME");
    expect(consume).toMatchObject({ handled: false, guards: [] });
    const deposit = created.events.find((e) => e.type === "DEPOSIT");
    expect(deposit).toMatchObject({ handled: true, guards: ["mayDeposit"] });
    const wrongState = simulate("otk", {
      snapshot: created.snapshot,
      event: { type: "CONSUME", ...ev.CONSUME },
    });
    expect(wrongState.step?.reason).toBe("no transition for CONSUME in created");
  });

  it("[PLAY-SIM-PURE] assign actions show in the context: an entity enrolled, rotated, revoked; a channel re-keyed until used up", () => {
    const e = SIM_EXAMPLES.entity?.events ?? {};
    const entity = walk("entity", [
      { type: "ENROLL", ...e.ENROLL },
      { type: "ROTATE", ...e.ROTATE },
      { type: "REVOKE", ...e.REVOKE },
    ]);
    expect(entity.map((a) => [a.snapshot.value, a.snapshot.context.keyVersion])).toEqual([
      ["unassigned", 0],
      ["active", 1],
      ["active", 2],
      ["revoked", 2],
    ]);
    expect(entity[1]?.snapshot.context).toMatchObject({ userId: "alice", entityType: "PNE" });
    const channel = walk("secureChannelClient", [
      { type: "AUTHENTICATED" },
      { type: "REKEY" },
      { type: "REKEY" },
      { type: "REKEY" },
    ]);
    expect(channel.map((a) => a.snapshot.context.sendEpoch)).toEqual([0, 0, 1, 2, 2]);
    expect(channel[4]?.step).toMatchObject({ accepted: false, reason: "guard refused: epochLeft" });
  });

  it("[PLAY-SIM-PURE] an input of the reviewer's own replaces the example; a snapshot the reviewer edited is taken as sent", () => {
    const mine = simulate("entity", { input: { entityId: "my-own-pne" } });
    expect(mine.snapshot.context.entityId).toBe("my-own-pne");
    const edited = simulate("entity", {
      snapshot: {
        value: "active",
        context: { entityId: "x", userId: "bob", entityType: "PNGW", keyVersion: 9 },
      },
      event: { type: "REVOKE", userId: "alice" },
    });
    expect(edited.step).toMatchObject({ accepted: false, reason: "guard refused: isOwner" });
  });

  it("[PLAY-SIM-PURE] the route answers the same as the function and writes nothing to any store", async () => {
    // Some real server state first, so that "nothing changed" is about something.
    const seed = await app.request("/cpns/v1/admin/users", {
      method: "GET",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(seed.status).toBe(200);
    await storage.setItem("probe:record", { keep: "me" });
    const before = await everything();
    const ev = SIM_EXAMPLES.entity?.events ?? {};
    const start = await post("entity", {});
    expect(start.status).toBe(200);
    expect(start.headers.get("cache-control")).toBe("no-store");
    const first = (await start.json()) as SimAnswer;
    expect(first).toEqual(simulate("entity", {}));
    const next = await post("entity", {
      snapshot: first.snapshot,
      event: { type: "ENROLL", ...ev.ENROLL },
    });
    expect(((await next.json()) as SimAnswer).snapshot.value).toBe("active");
    expect(await everything()).toEqual(before);
  });
});

describe("[PLAY-SIM-VALIDATE] what an attacker sends to the simulation", () => {
  const snap = () => simulate("otk", {}).snapshot;
  const cases: Array<[string, string, unknown, number, string]> = [
    ["unknown machine", "no-such-machine", {}, 404, "ERR_SIM_MACHINE_UNKNOWN"],
    ["prototype name as machine", "__proto__", {}, 404, "ERR_SIM_MACHINE_UNKNOWN"],
    ["constructor as machine", "constructor", {}, 404, "ERR_SIM_MACHINE_UNKNOWN"],
    ["body not an object", "otk", [1, 2], 400, "ERR_SIM_REQUEST_INVALID"],
    ["unknown top-level field", "otk", { evil: 1 }, 400, "ERR_SIM_REQUEST_INVALID"],
    [
      "input and snapshot together",
      "otk",
      { input: {}, snapshot: {} },
      400,
      "ERR_SIM_REQUEST_INVALID",
    ],
    [
      "unknown state",
      "otk",
      { snapshot: { value: "owned", context: {} } },
      400,
      "ERR_SIM_STATE_UNKNOWN",
    ],
    [
      "prototype state",
      "otk",
      { snapshot: { value: "__proto__", context: {} } },
      400,
      "ERR_SIM_STATE_UNKNOWN",
    ],
    [
      "nested state value",
      "otk",
      { snapshot: { value: { a: "b" }, context: {} } },
      400,
      "ERR_SIM_STATE_UNKNOWN",
    ],
    [
      "context missing fields",
      "otk",
      { snapshot: { value: "created", context: {} } },
      400,
      "ERR_SIM_SNAPSHOT_INVALID",
    ],
    [
      "context not an object",
      "otk",
      { snapshot: { value: "created", context: "x" } },
      400,
      "ERR_SIM_SNAPSHOT_INVALID",
    ],
    [
      "snapshot extra field",
      "otk",
      { snapshot: { value: "created", context: {}, children: {} } },
      400,
      "ERR_SIM_SNAPSHOT_INVALID",
    ],
    ["input with a wrong type", "entity", { input: { entityId: 5 } }, 400, "ERR_SIM_INPUT_INVALID"],
    [
      "input with an extra field",
      "entity",
      { input: { entityId: "a", admin: true } },
      400,
      "ERR_SIM_INPUT_INVALID",
    ],
    ["input missing a field", "otk", { input: { otkId: "a" } }, 400, "ERR_SIM_INPUT_INVALID"],
    ["unknown event", "entity", { event: { type: "BECOME_ADMIN" } }, 400, "ERR_SIM_EVENT_UNKNOWN"],
    [
      "xstate's own event",
      "entity",
      { event: { type: "xstate.init" } },
      400,
      "ERR_SIM_EVENT_UNKNOWN",
    ],
    ["event type not a string", "entity", { event: { type: 7 } }, 400, "ERR_SIM_EVENT_UNKNOWN"],
    ["event not an object", "entity", { event: "ENROLL" }, 400, "ERR_SIM_EVENT_INVALID"],
    [
      "event payload of the wrong type",
      "entity",
      { event: { type: "AUTHENTICATE", keyVersion: "1" } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
    [
      "event payload missing",
      "entity",
      { event: { type: "AUTHENTICATE" } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
    [
      "event payload extra",
      "entity",
      { event: { type: "REVOKE", userId: "a", force: true } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
    [
      "event payload nested",
      "entity",
      { event: { type: "REVOKE", userId: { $ne: null } } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
    [
      "event payload null where not nullable",
      "entity",
      { event: { type: "AUTHENTICATE", keyVersion: null } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
    [
      "event payload not finite",
      "entity",
      { event: { type: "AUTHENTICATE", keyVersion: "NaN" } },
      400,
      "ERR_SIM_EVENT_INVALID",
    ],
  ];

  it.each(cases)(
    "[PLAY-SIM-VALIDATE] %s: problem+json with a stable code",
    async (_name, machine, body, status, code) => {
      const res = await post(machine, body);
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ code });
    },
  );

  it("[PLAY-SIM-VALIDATE] a context value of the wrong type or a long string is refused, naming the field but not the value", async () => {
    const context = { ...snap().context, expiresAt: "tomorrow" };
    const res = await post("otk", { snapshot: { value: "created", context } });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; detail: string };
    expect(problem.code).toBe("ERR_SIM_SNAPSHOT_INVALID");
    expect(problem.detail).toContain("expiresAt");
    expect(problem.detail).not.toContain("tomorrow");
    const secret = `s3cret-${"x".repeat(300)}`;
    const long = await post("otk", {
      snapshot: { value: "created", context: { ...snap().context, otkId: secret } },
    });
    expect(long.status).toBe(400);
    expect(await long.text()).not.toContain("s3cret");
  });

  it("[PLAY-SIM-VALIDATE] oversized, deep, malformed and non-JSON bodies are 4xx problems, never a 500", async () => {
    const big = await post("otk", { input: { otkId: "a".repeat(5000) } });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: "ERR_BODY_TOO_LARGE" });
    const deep = await post("otk", `{"event":${"[".repeat(1500)}${"]".repeat(1500)}}`);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({ code: "ERR_SIM_EVENT_INVALID" });
    const malformed = await post("otk", "{not json");
    expect(await malformed.json()).toMatchObject({ code: "ERR_BODY_MALFORMED" });
    const text = await post("otk", "{}", { "content-type": "text/plain" });
    expect(await text.json()).toMatchObject({ code: "ERR_UNSUPPORTED_MEDIA_TYPE" });
    const get = await app.request("/model/simulate/otk");
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
  });

  it("[PLAY-SIM-VALIDATE] a flood of hostile requests leaves every store as it was", async () => {
    await storage.setItem("probe:record", { keep: "me" });
    const before = await everything();
    for (const [, machine, body] of cases) await post(machine, body);
    await post("otk", { input: { otkId: "a".repeat(5000) } });
    expect(await everything()).toEqual(before);
  });
});
