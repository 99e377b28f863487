// src/channel/registry.ts (issue #10): the open channels of a serving end stay bounded per owner and
// in total, whatever a client opens; expired ones go first, then the oldest. A fake clock; no I/O.
import { describe, expect, it } from "vitest";
import type { ChannelEndpoint } from "../../src/channel/endpoint.ts";
import { ChannelRegistry } from "../../src/channel/registry.ts";

const endpoint = {} as ChannelEndpoint; // the registry never touches it

describe("[PEERCH-ONE-PER-SESSION] the channel registry's bounds", () => {
  it("[PEERCH-ONE-PER-SESSION] one per owner: a newer channel of a session replaces the older, other sessions untouched", () => {
    const registry = new ChannelRegistry(() => 0, { perOwner: 1, total: 100 });
    registry.add("a1", { endpoint, owner: "session-a", expiresAtMs: 10 });
    registry.add("b1", { endpoint, owner: "session-b", expiresAtMs: 10 });
    registry.add("a2", { endpoint, owner: "session-a", expiresAtMs: 10 });
    expect(registry.get("a1")).toBeUndefined();
    expect(registry.get("a2")).toBeDefined();
    expect(registry.get("b1")).toBeDefined();
    expect(registry.size).toBe(2);
    registry.deleteOwner("session-a");
    expect(registry.get("a2")).toBeUndefined();
    expect(registry.size).toBe(1);
  });

  it("[PEERCH-ONE-PER-SESSION] the total never exceeds its bound: 5,000 owners opening against a bound of 1,024", () => {
    let now = 0;
    const registry = new ChannelRegistry(() => now, { perOwner: 1, total: 1024 });
    for (let i = 0; i < 5000; i++) {
      registry.add(`c${i}`, { endpoint, owner: `s${i}`, expiresAtMs: 1000 });
      expect(registry.size).toBeLessThanOrEqual(1024);
    }
    // Full of live channels: the oldest goes.
    expect(registry.get("c0")).toBeUndefined();
    expect(registry.get("c4999")).toBeDefined();
    // Once they expired, a full registry sweeps them all before anything live is dropped.
    now = 2000;
    registry.add("fresh", { endpoint, owner: "new", expiresAtMs: 3000 });
    expect(registry.size).toBe(1);
    expect(registry.get("fresh")).toBeDefined();
  });
});
