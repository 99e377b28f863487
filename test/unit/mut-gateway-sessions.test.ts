/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/sessions.ts): the
 * PN GW's session book driven event by event, as the gateway drives it. A newer offer to a peer
 * withdraws the older one (its OTK zeroed, its state "withdrawn"), traffic on the peer's open
 * session leaves a newer offer alone, the OTK is zeroed once the session opens and the session
 * secret once it closes, and the history the state view shows is bounded.
 */
import { describe, expect, it } from "vitest";
import { GatewaySessionBook, type GatewaySessionEntry } from "../../src/gateway/sessions.ts";

const T = 1_800_000_000;

function offer(book: GatewaySessionBook, peerId: string, otkId: string) {
  const otk = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const entry = book.create({ gatewayId: "gw", peerId, otkId, offerExpiresAt: T + 120, otk });
  expect(book.apply(entry, { type: "DEPOSITED", peerType: "PNE" })).toBe(true);
  return { entry, otk };
}

function open(book: GatewaySessionBook, entry: GatewaySessionEntry, sessionId: string) {
  const peerId = entry.snapshot.context.peerId;
  expect(book.apply(entry, { type: "PEER_PROVED_OTK", peerId })).toBe(true);
  entry.secret = Uint8Array.from({ length: 32 }, () => 7);
  expect(book.apply(entry, { type: "SERVER_CONSUMED", sessionId, sessionExpiresAt: T + 900 })).toBe(
    true,
  );
}

const zeroed = (bytes: Uint8Array) => bytes.every((b) => b === 0);

describe("gateway session book (src/gateway/sessions.ts)", () => {
  it("[OTK-FORMAT] [PEER-SESSION] a newer offer to the same peer withdraws the older one and zeroes its OTK", () => {
    const book = new GatewaySessionBook();
    const first = offer(book, "pne-1", "otk-1");
    const second = offer(book, "pne-1", "otk-2");
    expect(book.offerTo("pne-1")).toBe(second.entry);
    expect(first.entry.snapshot.value).toBe("withdrawn");
    expect(first.entry.otk).toBeUndefined();
    expect(zeroed(first.otk)).toBe(true);
    expect(second.entry.otk).toBe(second.otk);
    expect(zeroed(second.otk)).toBe(false);
    expect(book.states().map((s) => s.state)).toEqual(["withdrawn", "offered"]);
  });

  it("[PEER-SESSION] traffic on the peer's open session leaves a newer offer to that peer usable", () => {
    const book = new GatewaySessionBook();
    const first = offer(book, "pne-2", "otk-1");
    open(book, first.entry, "session-1");
    const second = offer(book, "pne-2", "otk-2");
    expect(book.apply(first.entry, { type: "MESSAGE" })).toBe(true);
    expect(book.apply(first.entry, { type: "RELAY" })).toBe(true);
    expect(book.offerTo("pne-2")).toBe(second.entry);
    expect(second.entry.snapshot.value).toBe("offered");
    expect(book.session("session-1")).toBe(first.entry);
    // The newer offer opens its own session; the older one is still open beside it.
    open(book, second.entry, "session-2");
    expect(book.session("session-2")).toBe(second.entry);
    expect(book.session("session-1")).toBe(first.entry);
  });

  it("[PEER-SESSION] the OTK is zeroed once the session opens, the session secret once it closes", () => {
    const book = new GatewaySessionBook();
    const { entry, otk } = offer(book, "pne-3", "otk-1");
    expect(book.apply(entry, { type: "PEER_PROVED_OTK", peerId: "pne-3" })).toBe(true);
    // While the server is asked to consume it, the OTK is still there.
    expect(entry.otk).toBe(otk);
    expect(zeroed(otk)).toBe(false);
    const secret = Uint8Array.from({ length: 32 }, () => 9);
    entry.secret = secret;
    book.apply(entry, { type: "SERVER_CONSUMED", sessionId: "s-3", sessionExpiresAt: T + 900 });
    expect(entry.otk).toBeUndefined();
    expect(zeroed(otk)).toBe(true);
    expect(book.offerTo("pne-3")).toBeUndefined();
    expect(book.session("s-3")).toBe(entry);
    expect(zeroed(secret)).toBe(false);
    expect(book.apply(entry, { type: "CLOSE" })).toBe(true);
    expect(entry.secret).toBeUndefined();
    expect(zeroed(secret)).toBe(true);
    expect(book.session("s-3")).toBeUndefined();
  });

  it("[PEER-SESSION] an expired session's secret is zeroed too", () => {
    const book = new GatewaySessionBook();
    const { entry } = offer(book, "pne-4", "otk-1");
    open(book, entry, "s-4");
    const secret = entry.secret as Uint8Array;
    expect(book.apply(entry, { type: "EXPIRE", now: T + 901 })).toBe(true);
    expect(entry.snapshot.value).toBe("expired");
    expect(zeroed(secret)).toBe(true);
    expect(entry.secret).toBeUndefined();
  });

  it("[PEER-SESSION] a refused consumption zeroes the OTK and leaves no offer", () => {
    const book = new GatewaySessionBook();
    const { entry, otk } = offer(book, "pne-5", "otk-1");
    book.apply(entry, { type: "PEER_PROVED_OTK", peerId: "pne-5" });
    expect(book.apply(entry, { type: "SERVER_REFUSED" })).toBe(true);
    expect(zeroed(otk)).toBe(true);
    expect(book.offerTo("pne-5")).toBeUndefined();
  });

  it("[PEER-SESSION] the state view keeps exactly the newest `historyLimit` entries", () => {
    const book = new GatewaySessionBook(2);
    offer(book, "pne-a", "otk-a");
    offer(book, "pne-b", "otk-b");
    expect(book.states().map((s) => s.otkId)).toEqual(["otk-a", "otk-b"]);
    offer(book, "pne-c", "otk-c");
    expect(book.states().map((s) => s.otkId)).toEqual(["otk-b", "otk-c"]);
  });
});
