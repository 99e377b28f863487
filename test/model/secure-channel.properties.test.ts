// Safety properties of the secure-channel machines (machines/secure-channel.ts, seed 5.x.4,
// spec/channel.md), checked over every reachable state: breadth-first over every event with its
// payloads (times before, at and after the expiry), send epochs bounded at 3 (REKEY is a
// self-loop that counts; the bound is in the titles). That no record is accepted twice is the
// replay window's property, not the lifecycle's: test/unit/channel-record.test.ts checks it on the
// channel code itself, including concurrent copies and a fast-check over mutated records.
import { describe, expect, it } from "vitest";
import {
  secureChannelClientMachine,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";
import { type ExplorableSnapshot, explore } from "./explore.ts";

const EXPIRES_AT_MS = 10_000;
const INPUT = { sessionId: "s1", expiresAtMs: EXPIRES_AT_MS };
const TIMES = [EXPIRES_AT_MS - 1, EXPIRES_AT_MS, EXPIRES_AT_MS + 1];
const BOUND = 3;

type Snapshot = ExplorableSnapshot & { value: string; context: { sendEpoch: number } };

const common = [
  { type: "AUTHENTICATED" },
  { type: "SEND" },
  { type: "RECEIVE" },
  { type: "REKEY" },
  ...TIMES.map((nowMs) => ({ type: "EXPIRE", nowMs })),
];
const CLIENT_EVENTS = [
  ...common,
  { type: "SERVER_UNPROVEN" },
  { type: "REFUSED" },
  { type: "CLOSE" },
  { type: "CLOSED" },
];
const SERVER_EVENTS = [...common, { type: "CLOSE_RECEIVED" }, { type: "CLOSE_ANSWERED" }];
const bounded = (s: Snapshot) => s.context.sendEpoch <= BOUND;

const client = explore<Snapshot>(secureChannelClientMachine, INPUT, CLIENT_EVENTS, bounded);
const server = explore<Snapshot>(secureChannelServerMachine, INPUT, SERVER_EVENTS, bounded);
const where = (path: string[]) => (path.length ? path.join(" -> ") : "(initial)");

describe("[SEED-5.x.4-1][CHANNEL-CLOSE][CHANNEL-REKEY] secure-channel machines: properties over every reachable state (send epochs <= 3)", () => {
  it("explores every state of both machines", () => {
    expect(new Set(client.map((e) => e.snapshot.value))).toEqual(
      new Set(["establishing", "open", "closing", "closed", "expired", "failed"]),
    );
    expect(new Set(server.map((e) => e.snapshot.value))).toEqual(
      new Set(["establishing", "open", "closing", "closed", "expired"]),
    );
  });

  it("[SEED-5.x.4-1] no record moves before AUTHENTICATED: SEND and RECEIVE need a path through it", () => {
    for (const { snapshot, path } of [...client, ...server]) {
      const moves = snapshot.can({ type: "SEND" }) || snapshot.can({ type: "RECEIVE" });
      if (moves) expect(path, where(path)).toContain("AUTHENTICATED");
    }
  });

  it("[CHANNEL-CLOSE] nothing moves in closed, expired or failed, and no path leaves them", () => {
    for (const { snapshot, path } of [...client, ...server]) {
      if (!["closed", "expired", "failed"].includes(snapshot.value)) continue;
      expect(snapshot.status, where(path)).toBe("done");
      for (const event of [...CLIENT_EVENTS, ...SERVER_EVENTS]) {
        expect(snapshot.can(event), `${where(path)} + ${event.type}`).toBe(false);
      }
    }
  });

  it("[CHANNEL-CLOSE] a client that sent its close sends nothing more; a server that received one sends only its close answer", () => {
    for (const { snapshot, path } of client) {
      if (snapshot.value === "closing")
        expect(snapshot.can({ type: "SEND" }), where(path)).toBe(false);
    }
    for (const { snapshot, path } of server) {
      if (snapshot.value !== "closing") continue;
      expect(snapshot.can({ type: "SEND" }), where(path)).toBe(false);
      expect(snapshot.can({ type: "RECEIVE" }), where(path)).toBe(false);
      expect(snapshot.can({ type: "CLOSE_ANSWERED" }), where(path)).toBe(true);
    }
  });

  it("[CHANNEL-CLOSE] expiry is taken only at or after expiresAtMs, from every live state but the server's two in-request ones", () => {
    for (const { snapshot, path } of [...client, ...server]) {
      if (snapshot.status === "done") continue;
      // The server creates and authenticates a channel in one call, and answers a close in the
      // request that brought it: its establishing and closing never see the clock move.
      if (server.some((e) => e.snapshot === snapshot) && snapshot.value !== "open") {
        expect(snapshot.can({ type: "EXPIRE", nowMs: EXPIRES_AT_MS + 1 }), where(path)).toBe(false);
        continue;
      }
      expect(snapshot.can({ type: "EXPIRE", nowMs: EXPIRES_AT_MS - 1 }), where(path)).toBe(false);
      expect(snapshot.can({ type: "EXPIRE", nowMs: EXPIRES_AT_MS }), where(path)).toBe(true);
    }
  });

  it("[CHANNEL-REKEY] the send epoch changes only by REKEY, by exactly one, and never goes back", () => {
    for (const { snapshot, path } of [...client, ...server]) {
      const rekeys = path.filter((step) => step === "REKEY").length;
      expect(snapshot.context.sendEpoch, where(path)).toBe(rekeys);
    }
  });

  it("[FFS-SERVER-AUTH] a client whose server did not prove itself never reaches open", () => {
    for (const { snapshot, path } of client) {
      if (path.includes("SERVER_UNPROVEN")) expect(snapshot.value, where(path)).toBe("failed");
    }
  });
});
