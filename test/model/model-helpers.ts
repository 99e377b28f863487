/**
 * Model-based tests (issue #5, DESIGN.md §6): xstate's `createTestModel` generates event paths
 * from a machine, and each path runs against the real system: a CPNS Server on a loopback port,
 * device agents with memory key stores, an impostor server. `states` assert what the system
 * observably does, `events` drive it. This module holds what both machines' tests share:
 *
 * - the servers (the real one, an impostor that cannot produce rspauth) and a gated transport
 *   that holds a device's request in flight, so the machine's transient states can be observed;
 * - `runPath`, which runs one generated path and records what it covered;
 * - `ModelCoverage`: states and transitions of the machine definition, a transition being source
 *   state + event + guard branch + target, where a guard's refusing branch counts too (target
 *   `(refused)`): paths never contain refused events (xstate's traversal drops self-loops), so the
 *   tests probe them in each state and show that the system refuses and changes nothing (the
 *   session machines' tests record them where the real system asked its machine and was refused:
 *   peer-model-helpers.ts);
 * - the deterministic spec/model-coverage.json writer (when MODEL_COVERAGE_OUT is set).
 *
 * Implements: SPEC-MODEL-TESTS
 * Implements: CHMODEL-MODEL-TESTS
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { dirname, join, resolve } from "node:path";
import { Hono } from "hono";
import { createStorage, type Storage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { expect, it } from "vitest";
import {
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type EventFromLogic,
  type EventObject,
  type InputFrom,
  initialTransition,
  type Snapshot,
  type SnapshotFrom,
  transition,
} from "xstate";
import type { TestModel, TestPath } from "xstate/graph";
import { guardLabel } from "../../scripts/spec/mermaid.ts";
import { stateNodes } from "../../scripts/spec/model.ts";
import { MODEL_COVERAGE_JSON, REPO_ROOT } from "../../scripts/spec/outputs.ts";
import type {
  MachineCoverage,
  ModelCoverage as ModelCoverageFile,
} from "../../scripts/spec/trace.ts";
import type { DeviceRecord } from "../../src/agent/keystore.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import { createUserSealed } from "../admin-users.ts";

// ------------------------------------------------------------------ servers

export const REALM = "cpns-model";
const ADMIN_TOKEN = "model-admin-token-0123456789abcdef";
export const PASSWORDS = { alice: "alice-password-1", bob: "bob-password-2" } as const;
export type UserId = keyof typeof PASSWORDS;
export const USERS = Object.keys(PASSWORDS) as UserId[];
/** Paths run five at a time (describe.concurrent), on machines that may be busy. */
export const PATH_TIMEOUT_MS = 30_000;

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler with serveNode (src/runtime/node-server.ts) on 127.0.0.1, port 0. */
export async function serve(fetch: (request: Request) => Response | Promise<Response>) {
  let listening!: (port: number) => void;
  const ready = new Promise<number>((r) => {
    listening = r;
  });
  const server = serveNode({ fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
    listening(info.port),
  ) as Server;
  const url = `http://127.0.0.1:${await ready}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** A failed outcome's status and code (AgentError and CpnsError both carry them). */
export function failure(outcome: Outcome<unknown>): { status: number; code: string } | undefined {
  if (outcome.ok) return undefined;
  const { status, code } = outcome.error as { status?: number; code?: string };
  return { status: status ?? -1, code: code ?? String(outcome.error) };
}

export interface CpnsUnderTest extends Served {
  readonly storage: Storage;
  /** A user's side of the server, with its own Digest clients (one per test keeps nonces apart). */
  session(): UserSession;
  /** The stored records of one entity (and all users), sorted: equal dumps mean nothing was written. */
  dump(entityId: string): Promise<string>;
}

export interface UserSession {
  /** Digest fetch of a path as a CPNS User (rspauth required). */
  asUser(userId: UserId): (path: string, init?: RequestInit) => Promise<Response>;
  /** GET /cpns/v1/entities/:id as a user: the status and the JSON body. */
  view(
    userId: UserId,
    entityId: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** DELETE /cpns/v1/entities/:id as a user. */
  revoke(
    userId: UserId,
    entityId: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** A real CPNS Server (memory storage) with the given users created through the admin API. */
export async function startCpns(users: readonly UserId[] = USERS): Promise<CpnsUnderTest> {
  const storage = createStorage({ driver: memoryDriver() });
  const app = createServerApp({
    realm: REALM,
    storage,
    masterKey: new Uint8Array(randomBytes(32)),
    adminToken: ADMIN_TOKEN,
    digestSecret: randomBytes(32).toString("base64url"),
    // The tests present old and revoked keys on purpose, many times per path.
    rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
  });
  const served = await serve(app.fetch);
  for (const userId of users) {
    const res = await createUserSealed({
      transport: (request) => fetch(request),
      base: served.url,
      adminToken: ADMIN_TOKEN,
      userId,
      password: PASSWORDS[userId],
    });
    if (res.status !== 201)
      throw new Error(`creating ${userId}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
  const session = (): UserSession => {
    const clients = new Map<UserId, ReturnType<typeof createDigestFetch>>();
    const asUser = (userId: UserId) => {
      let client = clients.get(userId);
      if (!client) {
        client = createDigestFetch({
          username: userId,
          password: PASSWORDS[userId],
          requireRspauth: true,
        });
        clients.set(userId, client);
      }
      const digestFetch = client;
      return (path: string, init?: RequestInit) => digestFetch(`${served.url}${path}`, init);
    };
    const call = async (userId: UserId, path: string, init?: RequestInit) => {
      const res = await asUser(userId)(path, init);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    return {
      asUser,
      view: (userId, entityId) => call(userId, `/cpns/v1/entities/${entityId}`),
      revoke: (userId, entityId) =>
        call(userId, `/cpns/v1/entities/${entityId}`, { method: "DELETE" }),
    };
  };
  return {
    ...served,
    storage,
    session,
    async dump(entityId) {
      const entries: Array<[string, unknown]> = [];
      for (const key of (await storage.getKeys()).sort()) {
        const value = await storage.getItem(key);
        const mine =
          key.startsWith("user:") ||
          value === entityId ||
          (value as { entityId?: unknown } | null)?.entityId === entityId;
        if (mine) entries.push([key, value]);
      }
      return JSON.stringify(entries);
    },
  };
}

/**
 * A server that does not know any EUKey, so it cannot produce rspauth: it challenges like the
 * CPNS Server (or, with `challenge: false`, does not even do that) and then answers 200 with a
 * plausible body and no Authentication-Info.
 */
export async function startImpostor(options: { challenge: boolean }): Promise<Served> {
  const app = new Hono();
  app.all("*", (c) => {
    if (options.challenge && !c.req.header("authorization")) {
      const nonce = randomBytes(16).toString("base64url");
      return c.body(null, 401, {
        // What a capable impostor offers (auth-int, SHA-256): the agents' floors let it through to
        // the point this impostor is for, the missing rspauth.
        "WWW-Authenticate": `Digest realm="${REALM}", qop="auth-int", algorithm=SHA-256, nonce="${nonce}", opaque="x"`,
      });
    }
    return c.json({ entityId: "impostor", userId: "mallory", type: "PNE", keyVersion: 99 });
  });
  return serve(app.fetch);
}

/** A seeded copy of a device record in its own store, for probes that must not touch the device. */
export function cloneRecord(record: DeviceRecord): DeviceRecord {
  return { ...record, machine: { ...record.machine } };
}

// ------------------------------------------------------------------ gated transport

/**
 * The device's transport. `hold()` makes the next request wait until `release(origin)`, which
 * also chooses where that request and the rest of its Digest exchange go (the real server, the
 * impostor): the agent's transient states (enrolling, authenticating) exist exactly while its
 * request is in flight.
 */
export class Wire {
  #origin: string;
  #held: { reached: () => void; release: (origin: string) => void } | undefined;
  #reached: Promise<void> | undefined;
  /** Requests sent so far. */
  requests = 0;

  constructor(serverUrl: string) {
    this.#origin = serverUrl;
  }

  get isHeld(): boolean {
    return this.#held !== undefined;
  }

  readonly fetch: FetchLike = async (request) => {
    const held = this.#held;
    if (held) {
      const origin = new Promise<string>((r) => {
        held.release = r;
      });
      held.reached();
      this.#origin = await origin;
      this.#held = undefined;
    }
    this.requests++;
    const url = new URL(request.url);
    const target = new URL(url.pathname + url.search, this.#origin);
    const body = request.body ? await request.arrayBuffer() : undefined;
    return fetch(target, { method: request.method, headers: request.headers, body });
  };

  hold(): void {
    let reached!: () => void;
    this.#reached = new Promise<void>((r) => {
      reached = r;
    });
    this.#held = { reached, release: () => {} };
  }

  /** Resolves once the held request has been sent (and is waiting). */
  reached(): Promise<void> {
    if (!this.#reached) throw new Error("wire: nothing held");
    return this.#reached;
  }

  release(origin: string): void {
    if (!this.#held) throw new Error("wire: nothing held");
    this.#held.release(origin);
  }
}

// ------------------------------------------------------------------ coverage

interface Snap {
  value: unknown;
  _nodes: AnyStateNode[];
}

const stateName = (node: AnyStateNode) => node.path.join(".") || "(root)";
const negate = (label: string) => (/[\s&|]/.test(label) ? `!(${label})` : `!${label}`);

function transitionKey(
  source: AnyStateNode,
  event: string,
  guard: string | undefined,
  target: string,
) {
  return `${stateName(source)} --${event}${guard ? ` [${guard}]` : ""}--> ${target}`;
}

/**
 * Which states and transitions of a machine definition the executed paths covered. A transition
 * is source + event + guard branch + target; an unguarded candidate after guarded ones is the
 * negation of their guards, and when every candidate is guarded, the refusing branch (all guards
 * false, nothing happens) is one more, with target `(refused)`.
 */
export class ModelCoverage {
  readonly states: string[];
  readonly transitions: string[];
  readonly #byDefinition = new Map<AnyTransitionDefinition, string>();
  readonly #refusals = new Map<string, string>();
  readonly #seenStates = new Set<string>();
  readonly #seenTransitions = new Set<string>();

  constructor(private readonly machine: AnyStateMachine) {
    const nodes = stateNodes(machine.root);
    this.states = nodes.filter((n) => n.type === "atomic" || n.type === "final").map(stateName);
    this.transitions = [];
    for (const node of nodes) {
      for (const [event, candidates] of node.transitions) {
        const guards: string[] = [];
        for (const t of candidates) {
          const label = t.guard
            ? guardLabel(t.guard)
            : guards.length > 0
              ? guards.map(negate).join(" && ")
              : undefined;
          const target = t.target ? t.target.map(stateName).join(", ") : "(stays)";
          const key = transitionKey(node, event, label, target);
          this.#byDefinition.set(t, key);
          this.transitions.push(key);
          if (t.guard) guards.push(guardLabel(t.guard));
        }
        if (candidates.length > 0 && candidates.every((t) => t.guard)) {
          const key = transitionKey(node, event, guards.map(negate).join(" && "), "(refused)");
          this.#refusals.set(`${node.id}\n${event}`, key);
          this.transitions.push(key);
        }
      }
    }
  }

  /** Records a state the real system was shown to be in. */
  visit(snapshot: Snap): void {
    for (const node of snapshot._nodes) {
      if (node.type === "atomic" || node.type === "final") this.#seenStates.add(stateName(node));
    }
  }

  /** The transition `event` takes from `source` (a refusing branch included), if the state handles it. */
  transitionOf<E extends EventObject>(source: Snap, event: E): string | undefined {
    // biome-ignore lint/suspicious/noExplicitAny: the snapshot belongs to this machine.
    const chosen = this.machine.getTransitionData(source as any, event);
    if (chosen.length > 0) return this.#byDefinition.get(chosen[0] as AnyTransitionDefinition);
    const handlers = source._nodes
      .filter((n) => n.transitions.has(event.type))
      .sort((a, b) => b.path.length - a.path.length);
    const node = handlers[0];
    return node && this.#refusals.get(`${node.id}\n${event.type}`);
  }

  /** Records that the real system took (or refused) `event` in `source` as the model says. */
  step<E extends EventObject>(source: Snap, event: E): void {
    const key = this.transitionOf(source, event);
    if (key) this.#seenTransitions.add(key);
  }

  summary(bound: string, paths: { shortest: number; simple: number }): MachineCoverage {
    const missingStates = this.states.filter((s) => !this.#seenStates.has(s)).sort();
    const missing = this.transitions.filter((t) => !this.#seenTransitions.has(t)).sort();
    return {
      machine: this.machine.id,
      bound,
      paths,
      states: {
        covered: this.states.length - missingStates.length,
        total: this.states.length,
        missing: missingStates,
      },
      transitions: {
        covered: this.transitions.length - missing.length,
        total: this.transitions.length,
        missing,
        all: [...this.transitions].sort(),
      },
    };
  }
}

export function formatCoverage(c: MachineCoverage): string {
  const pct = (x: { covered: number; total: number }) =>
    `${x.covered}/${x.total} (${x.total === 0 ? 100 : Math.floor((x.covered * 100) / x.total)}%)`;
  const lines = [
    `model coverage of ${c.machine}: states ${pct(c.states)}, transitions ${pct(c.transitions)}; ` +
      `${c.paths.shortest} shortest + ${c.paths.simple} simple paths (${c.bound})`,
    ...c.states.missing.map((s) => `  missing state: ${s}`),
    ...c.transitions.missing.map((t) => `  missing transition: ${t}`),
  ];
  return lines.join("\n");
}

/** JSON laid out as Biome formats it: objects expanded, arrays on one line when they fit in 100. */
export function stableJson(value: unknown, indent = "", prefix = 0): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const flat = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    const scalar = value.every((v) => typeof v !== "object" || v === null);
    if (scalar && indent.length + prefix + flat.length <= 100) return flat;
    return `[\n${value.map((v) => `${inner}${stableJson(v, inner)}`).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return `{\n${entries
      .map(([k, v]) => {
        const key = `${JSON.stringify(k)}: `;
        return `${inner}${key}${stableJson(v, inner, key.length + 1)}`;
      })
      .join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Where MODEL_COVERAGE_OUT says to write ("1"/"true": spec/model-coverage.json), or undefined. */
export function coverageOutPath(): string | undefined {
  const out = process.env.MODEL_COVERAGE_OUT;
  if (!out || out === "0" || out === "false") return undefined;
  return out === "1" || out === "true"
    ? join(REPO_ROOT, MODEL_COVERAGE_JSON)
    : resolve(REPO_ROOT, out);
}

/**
 * Merges one machine's figures into the coverage file (the machines' test files run in parallel
 * workers, so the read-modify-write holds a lock directory). Sorted, no times: deterministic.
 */
export async function writeCoverage(entry: MachineCoverage, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const lock = `${path}.lock`;
  for (let tries = 0; ; tries++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (tries > 500) throw new Error(`could not lock ${lock} (left by a crashed run? remove it)`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  try {
    let machines: MachineCoverage[] = [];
    if (existsSync(path)) {
      try {
        machines = (JSON.parse(readFileSync(path, "utf8")) as ModelCoverageFile).machines ?? [];
      } catch {
        machines = [];
      }
    }
    machines = [...machines.filter((m) => m.machine !== entry.machine), entry].sort((a, b) =>
      a.machine < b.machine ? -1 : a.machine > b.machine ? 1 : 0,
    );
    const file: ModelCoverageFile = { machines };
    writeFileSync(path, `${stableJson(file)}\n`);
  } finally {
    rmdirSync(lock);
  }
}

/**
 * The closing test of every model-based file: the paths it executed showed every state and every
 * transition (refusals included) of its machine for real; the figures go to the coverage file
 * when MODEL_COVERAGE_OUT asks for them.
 */
export function itCoversTheMachine(
  coverage: ModelCoverage,
  bound: string,
  paths: { shortest: readonly unknown[]; simple: readonly unknown[] },
): void {
  it("the executed paths cover every state and transition of the machine", async () => {
    const summary = coverage.summary(bound, {
      shortest: paths.shortest.length,
      simple: paths.simple.length,
    });
    console.log(formatCoverage(summary));
    const out = coverageOutPath();
    if (out) await writeCoverage(summary, out);
    expect(
      [...summary.states.missing, ...summary.transitions.missing],
      formatCoverage(summary),
    ).toEqual([]);
  });
}

// ------------------------------------------------------------------ running a path

type StateCheck<S> = (snapshot: S) => Promise<void>;
type EventRun<S, E> = (step: { state: S; event: E }) => Promise<void>;

/** `ENROLL(alice, PNE)`: an event with its payload values. */
export function eventText(event: EventObject): string {
  const { type, ...payload } = event;
  const values = Object.values(payload).map(String);
  return values.length > 0 ? `${type}(${values.join(", ")})` : type;
}

/**
 * The path of a given event sequence, in the shape `getShortestPaths` returns (a first step
 * `xstate.init`, then each event with the state after it). xstate's own `getPathsFromEvents`
 * does not pass the machine's input through, so this builds it from `transition`.
 */
export function pathOf<TMachine extends AnyStateMachine>(
  model: TestModel<SnapshotFrom<TMachine>, EventFromLogic<TMachine>, unknown>,
  machine: TMachine,
  input: InputFrom<TMachine>,
  events: ReadonlyArray<EventFromLogic<TMachine>>,
): TestPath<SnapshotFrom<TMachine>, EventFromLogic<TMachine>> {
  let [state] = initialTransition(machine, input);
  const steps = [{ state, event: { type: "xstate.init" } as EventFromLogic<TMachine> }];
  for (const event of events) {
    [state] = transition(machine, state, event);
    steps.push({ state, event });
  }
  const statePath = { state, steps, weight: events.length };
  return {
    ...statePath,
    description: events.map(eventText).join(" → "),
    test: (params) => model.testPath(statePath, params),
  };
}

/** A path as its events and the state it ends in, for the test title. */
export function pathTitle(path: { steps: Array<{ event: EventObject }>; state: unknown }): string {
  const events = path.steps.map((s) => s.event).filter((e) => e.type !== "xstate.init");
  const end = (path.state as { value: unknown }).value;
  return `${events.map(eventText).join(" → ") || "(initial)"} ⇒ ${String(end)}`;
}

/**
 * Runs one generated path with `path.test`: every event through its driver, every state through
 * its check; records each state shown and each transition taken in `coverage`. Fails on an event
 * or state the caller has no code for (nothing is silently skipped).
 */
export async function runPath<
  S extends Snap & Snapshot<unknown> & { matches(v: string): boolean },
  E extends EventObject,
>(
  path: TestPath<S, E>,
  coverage: ModelCoverage,
  params: { states: Record<string, StateCheck<S>>; events: Record<string, EventRun<S, E>> },
): Promise<void> {
  for (const step of path.steps) {
    const type = step.event.type;
    if (type !== "xstate.init" && !params.events[type]) throw new Error(`no driver for ${type}`);
    if (!Object.keys(params.states).some((k) => step.state.matches(k))) {
      throw new Error(`no check for state ${JSON.stringify(step.state.value)}`);
    }
  }
  let source: S | undefined;
  const states = Object.fromEntries(
    Object.entries(params.states).map(([key, check]) => [
      key,
      async (snapshot: S) => {
        await check(snapshot);
        coverage.visit(snapshot);
        source = snapshot;
      },
    ]),
  );
  const events = Object.fromEntries(
    Object.entries(params.events).map(([type, run]) => [
      type,
      async (step: { state: S; event: E }) => {
        await run(step);
        if (source) coverage.step(source, step.event);
      },
    ]),
  );
  // biome-ignore lint/suspicious/noExplicitAny: TestParam's event map is keyed by the machine's types.
  await path.test({ states, events } as any);
}
