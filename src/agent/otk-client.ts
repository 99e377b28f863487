/**
 * Seed 5.x.2, second bullet, device side of the sharing through the server:
 * a PN GW creates an OTK (32 random bytes) and deposits it for a peer, sealed
 * under its own EUKey; the peer lists its inbox and fetches the OTK, which
 * arrives sealed under the peer's EUKey; the PN GW consumes it at the server
 * before opening a peer session. Every call is an EntityAgent Digest request,
 * so the server's rspauth is required on each.
 *
 * Implements: SEED-5.x.2-4, OTK-FORMAT, OTK-DEPOSIT, AGENT-REQUIRE-RSPAUTH, AGENT-NO-DOWNGRADE
 */
import { fromBase64url, toBase64url } from "../crypto/bytes.ts";
import { type CryptoProvider, randomBytes } from "../crypto/provider.ts";
import { CpnsError } from "../errors.ts";
import { OTK_BYTES, OTK_TRANSPORT_ALG, openOtk, sealOtk } from "../protocol/otk-transport.ts";
import type {
  DepositOtkBody,
  DepositOtkResponse,
  OtkDeliveryResponse,
  OtkInboxResponse,
  OtkView,
} from "../protocol/schemas.ts";
import { type EntityAgent, problemOf } from "./agent.ts";
import type { DeviceKeyStore } from "./keystore.ts";

export interface OtkClientOptions {
  agent: EntityAgent;
  store: DeviceKeyStore;
  crypto?: CryptoProvider;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
}

/** An OTK the PN GW created and the server accepted. */
export interface IssuedOtk {
  otkId: string;
  otk: Uint8Array;
  peerId: string;
  peerType: "PNE" | "PNGW";
  expiresAt: number;
}

export interface PreparedOtk {
  otk: Uint8Array;
  otkId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** An OTK a peer received, opened. */
export interface ReceivedOtk {
  /** With `tlsPin` when the PN GW serves TLS: the key the peer must pin (OTK-TLS-PIN). */
  view: OtkView;
  otk: Uint8Array;
}

const json = (method: string, body?: unknown): RequestInit => ({
  method,
  ...(body === undefined
    ? {}
    : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
});

export class OtkClient {
  constructor(private readonly options: OtkClientOptions) {}

  async #eukey(entityId: string): Promise<Uint8Array> {
    const record = await this.options.store.get(entityId);
    if (!record?.eukey) throw new CpnsError("ERR_ENTITY_STATE", `${entityId} holds no EUKey`);
    return fromBase64url(record.eukey);
  }

  /** PN GW: a fresh OTK (32 random bytes), a random id and its expiry, before the deposit. */
  prepare(lifetimeSeconds: number): PreparedOtk {
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    return {
      otk: randomBytes(OTK_BYTES, this.options.crypto),
      otkId: toBase64url(randomBytes(16, this.options.crypto)),
      expiresAt: now + lifetimeSeconds,
    };
  }

  /** PN GW: create an OTK for `peerId` and deposit it, sealed under this gateway's EUKey. */
  async deposit(
    gatewayId: string,
    input: {
      peerId: string;
      endpoint?: string /** This PN GW's TLS pin (OTK-TLS-PIN). */;
      tlsPin?: string;
    } & (
      | { lifetimeSeconds: number }
      | { /** Made by `prepare()` beforehand, e.g. to record it first. */ prepared: PreparedOtk }
    ),
  ): Promise<IssuedOtk> {
    const { otk, otkId, expiresAt } =
      "prepared" in input ? input.prepared : this.prepare(input.lifetimeSeconds);
    const context = {
      otkId,
      issuerId: gatewayId,
      peerId: input.peerId,
      expiresAt,
      ...(input.tlsPin ? { tlsPin: input.tlsPin } : {}),
    };
    const body: DepositOtkBody = {
      otkId,
      peerId: input.peerId,
      expiresAt,
      sealedOtk: await sealOtk(
        "deposit",
        otk,
        await this.#eukey(gatewayId),
        context,
        this.options.crypto,
      ),
      ...(input.endpoint ? { endpoint: input.endpoint } : {}),
      ...(input.tlsPin ? { tlsPin: input.tlsPin } : {}),
    };
    const res = await this.options.agent.fetchAsEntity(
      gatewayId,
      "/cpns/v1/otks",
      json("POST", body),
    );
    if (res.status !== 201) throw await problemOf(res);
    const answer = (await res.json()) as DepositOtkResponse;
    // Digest (qop=auth) does not cover the body: check the server accepted what was sent.
    if (
      answer.otkId !== otkId ||
      answer.peerId !== input.peerId ||
      answer.issuerId !== gatewayId ||
      answer.expiresAt !== expiresAt ||
      answer.tlsPin !== input.tlsPin
    ) {
      throw new CpnsError("ERR_KEY_UNWRAP", "the server's answer does not match the deposit");
    }
    return { otkId, otk, peerId: input.peerId, peerType: answer.peerType, expiresAt };
  }

  /** PN GW: the server's consent to open a session with this OTK (it is consumed then). */
  async consume(gatewayId: string, otkId: string): Promise<OtkView> {
    const res = await this.options.agent.fetchAsEntity(
      gatewayId,
      `/cpns/v1/otks/${encodeURIComponent(otkId)}/consume`,
      json("POST"),
    );
    if (!res.ok) throw await problemOf(res);
    return (await res.json()) as OtkView;
  }

  /** Peer: the OTKs waiting for this entity (ids, issuers, expiries; no keys). */
  async inbox(entityId: string): Promise<OtkView[]> {
    const res = await this.options.agent.fetchAsEntity(entityId, "/cpns/v1/otks/inbox");
    if (!res.ok) throw await problemOf(res);
    return ((await res.json()) as OtkInboxResponse).otks;
  }

  /** Peer: fetch one OTK (delivered once) and open it with this entity's EUKey. */
  async fetch(entityId: string, otkId: string): Promise<ReceivedOtk> {
    const res = await this.options.agent.fetchAsEntity(
      entityId,
      `/cpns/v1/otks/${encodeURIComponent(otkId)}/delivery`,
      json("POST"),
    );
    if (!res.ok) throw await problemOf(res);
    const body = (await res.json()) as OtkDeliveryResponse;
    // The AAD below binds ids and expiry; the algorithm must be the one this code speaks.
    if (body.otkId !== otkId || body.peerId !== entityId || body.alg !== OTK_TRANSPORT_ALG) {
      throw new CpnsError("ERR_KEY_UNWRAP");
    }
    const otk = await openOtk(
      "delivery",
      body.sealedOtk,
      await this.#eukey(entityId),
      // The pin is in the AAD: a pin swapped, added or stripped on the way does not open.
      {
        otkId,
        issuerId: body.issuerId,
        peerId: entityId,
        expiresAt: body.expiresAt,
        ...(body.tlsPin !== undefined ? { tlsPin: body.tlsPin } : {}),
      },
      this.options.crypto,
    );
    if (!otk) throw new CpnsError("ERR_KEY_UNWRAP");
    const { alg: _alg, sealedOtk: _sealed, ...view } = body;
    return { view, otk };
  }
}
