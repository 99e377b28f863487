/**
 * Safety properties of the lifecycles, checked exhaustively over every
 * reachable state of each machine and of the server/device composition
 * (issue #5). A failing property names the shortest event path that breaks it.
 * Key versions grow without bound, so exploration stops at version 4: every
 * property below is about the relation between consecutive versions, which
 * versions 1-4 already exercise.
 */
import { describe, expect, it } from "vitest";
import { type SnapshotFrom, transition } from "xstate";
import { type AgentEvent, agentMachine } from "../../machines/agent.ts";
import { type EntityEvent, entityMachine } from "../../machines/entity.ts";
import { describeEvent, explore } from "./explore.ts";

const MAX_VERSION = 4;
const USERS = ["alice", "bob"] as const;
const TYPES = ["PNE", "PNGW"] as const;

const ENTITY_EVENTS: EntityEvent[] = [
  ...USERS.flatMap((userId) =>
    TYPES.flatMap((entityType) => [
      { type: "ENROLL" as const, userId, entityType },
      { type: "ROTATE" as const, userId, entityType },
    ]),
  ),
  ...USERS.map((userId) => ({ type: "REVOKE" as const, userId })),
  ...Array.from({ length: MAX_VERSION + 2 }, (_, keyVersion) => ({
    type: "AUTHENTICATE" as const,
    keyVersion,
  })),
];

const entityStates = explore<SnapshotFrom<typeof entityMachine>>(
  entityMachine,
  { entityId: "gw-1" },
  ENTITY_EVENTS,
  (s) => s.context.keyVersion <= MAX_VERSION,
);

function fail(path: string[], event: { type: string }, why: string): never {
  throw new Error(`${why}\n  path: ${[...path, describeEvent(event)].join(" -> ") || "(initial)"}`);
}

describe("[ENTITY-LIFECYCLE][SEED-5.x.2-1] entity machine: properties over every reachable state (key versions <= 4)", () => {
  it("explores every state of the machine", () => {
    const values = new Set(entityStates.map((s) => String(s.snapshot.value)));
    expect([...values].sort()).toEqual(["active", "revoked", "unassigned"]);
    expect(entityStates.length).toBeGreaterThan(MAX_VERSION * 2);
  });

  it("only the current key version of an active entity authenticates; a rotated-away or revoked key never does", () => {
    for (const { snapshot, path } of entityStates) {
      for (let keyVersion = 0; keyVersion <= MAX_VERSION + 1; keyVersion++) {
        const event = { type: "AUTHENTICATE" as const, keyVersion };
        const accepted = snapshot.can(event);
        const expected = snapshot.value === "active" && keyVersion === snapshot.context.keyVersion;
        if (accepted !== expected) fail(path, event, `AUTHENTICATE accepted=${accepted}`);
      }
    }
  });

  it("[SERVER-OWNERSHIP][SEED-5.x.3-2] no event from a non-owner changes an owned entity", () => {
    for (const { snapshot, path } of entityStates) {
      const owner = snapshot.context.userId;
      if (owner === null) continue;
      for (const event of ENTITY_EVENTS) {
        if (!("userId" in event) || event.userId === owner) continue;
        if (snapshot.can(event)) fail(path, event, `non-owner ${event.userId} accepted`);
      }
    }
  });

  it("revoked is final: no event leaves it", () => {
    for (const { snapshot, path } of entityStates) {
      if (snapshot.value !== "revoked") continue;
      expect(snapshot.status).toBe("done");
      for (const event of ENTITY_EVENTS) if (snapshot.can(event)) fail(path, event, "left revoked");
    }
  });

  it("key versions only grow, by exactly one per ENROLL or ROTATE, and the type never changes", () => {
    for (const { snapshot, path } of entityStates) {
      for (const event of ENTITY_EVENTS) {
        if (!snapshot.can(event)) continue;
        const [next] = transition(entityMachine, snapshot, event);
        const grew = next.context.keyVersion - snapshot.context.keyVersion;
        const expected = event.type === "ENROLL" || event.type === "ROTATE" ? 1 : 0;
        if (grew !== expected) fail(path, event, `keyVersion changed by ${grew}`);
        if (
          snapshot.context.entityType &&
          next.context.entityType !== snapshot.context.entityType
        ) {
          fail(path, event, "entity type changed");
        }
      }
    }
  });
});

const AGENT_EVENTS: AgentEvent[] = [
  { type: "ENROLL" },
  ...Array.from({ length: MAX_VERSION + 1 }, (_, keyVersion) => ({
    type: "ENROLLED" as const,
    keyVersion,
  })),
  { type: "ENROLL_FAILED" },
  { type: "AUTHENTICATE" },
  { type: "SERVER_PROVED" },
  { type: "SERVER_UNPROVEN" },
  { type: "REJECTED" },
];

const agentStates = explore<SnapshotFrom<typeof agentMachine>>(
  agentMachine,
  { entityId: "gw-1" },
  AGENT_EVENTS,
  (s) => s.context.keyVersion <= MAX_VERSION,
);

describe("[AGENT-LIFECYCLE][FFS-SERVER-AUTH] agent machine: properties over every reachable state (key versions <= 4)", () => {
  it("explores every state of the machine", () => {
    const values = new Set(agentStates.map((s) => String(s.snapshot.value)));
    expect([...values].sort()).toEqual([
      "authenticated",
      "authenticating",
      "enrolled",
      "enrolling",
      "unenrolled",
    ]);
  });

  it("authenticated is reached only through SERVER_PROVED (the server's rspauth), never otherwise", () => {
    for (const { snapshot, path } of agentStates) {
      for (const event of AGENT_EVENTS) {
        if (!snapshot.can(event)) continue;
        const [next] = transition(agentMachine, snapshot, event);
        if (next.value === "authenticated" && event.type !== "SERVER_PROVED") {
          fail(path, event, "authenticated without the server's proof");
        }
      }
    }
  });

  it("an older or equal key version is never accepted as a new enrollment", () => {
    for (const { snapshot, path } of agentStates) {
      for (const event of AGENT_EVENTS) {
        if (event.type !== "ENROLLED" || !snapshot.can(event)) continue;
        if (event.keyVersion <= snapshot.context.keyVersion)
          fail(path, event, "stale key accepted");
      }
    }
  });
});

describe("[ENTITY-LIFECYCLE][AGENT-LIFECYCLE][FFS-SERVER-AUTH] server and device composed: a device is authenticated only while the server accepts its key", () => {
  // Composition: the device's key version must be the server's current one for
  // AUTHENTICATE to succeed; rejection sends the device back to unenrolled.
  type Pair = {
    entity: (typeof entityStates)[number]["snapshot"];
    agent: (typeof agentStates)[number]["snapshot"];
  };
  type Step = { label: string; apply: (pair: Pair) => Pair | undefined };
  const owner = "alice";
  const steps: Step[] = [
    {
      label: "enroll",
      apply: ({ entity, agent }) => {
        if (!agent.can({ type: "ENROLL" })) return undefined;
        const event: EntityEvent =
          entity.value === "unassigned"
            ? { type: "ENROLL", userId: owner, entityType: "PNGW" }
            : { type: "ROTATE", userId: owner, entityType: "PNGW" };
        const enrolling = transition(agentMachine, agent, { type: "ENROLL" })[0];
        if (!entity.can(event)) {
          return {
            entity,
            agent: transition(agentMachine, enrolling, { type: "ENROLL_FAILED" })[0],
          };
        }
        const nextEntity = transition(entityMachine, entity, event)[0];
        const done = { type: "ENROLLED" as const, keyVersion: nextEntity.context.keyVersion };
        return { entity: nextEntity, agent: transition(agentMachine, enrolling, done)[0] };
      },
    },
    {
      label: "authenticate",
      apply: ({ entity, agent }) => {
        if (!agent.can({ type: "AUTHENTICATE" })) return undefined;
        const trying = transition(agentMachine, agent, { type: "AUTHENTICATE" })[0];
        const ok = entity.can({ type: "AUTHENTICATE", keyVersion: agent.context.keyVersion });
        return {
          entity,
          agent: transition(agentMachine, trying, { type: ok ? "SERVER_PROVED" : "REJECTED" })[0],
        };
      },
    },
    {
      label: "rotate elsewhere",
      apply: ({ entity, agent }) => {
        const event = { type: "ROTATE" as const, userId: owner, entityType: "PNGW" as const };
        return entity.can(event)
          ? { entity: transition(entityMachine, entity, event)[0], agent }
          : undefined;
      },
    },
    {
      label: "revoke",
      apply: ({ entity, agent }) => {
        const event = { type: "REVOKE" as const, userId: owner };
        return entity.can(event)
          ? { entity: transition(entityMachine, entity, event)[0], agent }
          : undefined;
      },
    },
  ];

  it("every reachable pair: 'authenticated' was granted with the server's current key version", () => {
    const start: Pair = {
      entity: entityStates[0]?.snapshot as Pair["entity"],
      agent: agentStates[0]?.snapshot as Pair["agent"],
    };
    const key = (p: Pair) =>
      JSON.stringify([p.entity.value, p.entity.context, p.agent.value, p.agent.context]);
    const seen = new Set([key(start)]);
    const queue: Array<{ pair: Pair; path: string[] }> = [{ pair: start, path: [] }];
    let count = 0;
    while (queue.length > 0) {
      const { pair, path } = queue.shift() as { pair: Pair; path: string[] };
      count++;
      for (const step of steps) {
        const next = step.apply(pair);
        if (!next || next.entity.context.keyVersion > MAX_VERSION) continue;
        if (
          step.label === "authenticate" &&
          next.agent.value === "authenticated" &&
          !(
            next.entity.value === "active" &&
            next.entity.context.keyVersion === next.agent.context.keyVersion
          )
        ) {
          fail(
            path,
            { type: step.label },
            "device authenticated with a key the server does not accept",
          );
        }
        const k = key(next);
        if (seen.has(k)) continue;
        seen.add(k);
        queue.push({ pair: next, path: [...path, step.label] });
      }
    }
    expect(count).toBeGreaterThan(10);
  });
});
