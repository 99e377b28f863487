/**
 * Issue #13 ("The API document"): the PN GW's OpenAPI 3.1 document, generated from its policy
 * table (src/gateway/policy.ts: every route, its caller, its qop) and the zod schemas of its
 * bodies (src/protocol/). Keyed by GatewayRouteId: a route added to the table without a
 * description here does not compile.
 *
 * Three Digest credentials, three security schemes, all `type: http, scheme: digest`: the
 * peer's OTK (opening a session), the session secret (session traffic), and the same session
 * secret in Proxy-Authorization on the relay, where the PNE's own Authorization passes to the
 * CPNS Server untouched.
 *
 * Implements: OPENAPI-DOC, OPENAPI-DIGEST, OPENAPI-PROBLEMS
 */
// The PN GW's verifiers take the engine's default algorithms (src/gateway/guard.ts).
import { DEFAULT_ALGORITHMS } from "../digest/index.ts";
import type { ErrorCode } from "../errors.ts";
import { GATEWAY_POLICY, type GatewayCaller, type GatewayRouteId } from "../gateway/policy.ts";
import {
  channelOpenedSchema,
  gatewayInfoSchema,
  healthSchema,
  peerMessageResponseSchema,
  peerSessionSchema,
} from "../protocol/responses.ts";
import { peerMessageSchema } from "../protocol/schemas.ts";
import {
  addOperation,
  type OpenApiDocument,
  type OperationDoc,
  operation,
  PROBLEM_SCHEMA,
} from "./build.ts";

const CHANNEL_MEDIA = "application/vnd.cpns.channel";
const SESSION_ID = "the session id (the Digest username of its credentials)";

const OPERATIONS: Record<GatewayRouteId, OperationDoc> = {
  health: {
    summary: "Liveness",
    responses: { 200: { description: "up", json: healthSchema } },
    problems: [],
  },
  info: {
    summary: "The PN GW, its id and Digest realm",
    responses: { 200: { description: "the gateway", json: gatewayInfoSchema } },
    problems: [],
  },
  "sessions.open": {
    summary: "A peer opens a session with the OTK it fetched from the CPNS Server (seed 5.x.2)",
    description:
      "The PN GW asks the CPNS Server to consume the OTK before the session opens. The answer carries the first Proxy-Authenticate challenge for the relay and the first WWW-Authenticate challenge of the session routes (qop auth-int), so the first message needs no 401.",
    responses: { 201: { description: "the session", json: peerSessionSchema } },
    problems: ["ERR_PEER_SESSION_REFUSED", "ERR_OTK_GONE"],
  },
  "sessions.message": {
    summary: "Session traffic (echo): JSON, or bytes as application/octet-stream",
    params: { sessionId: SESSION_ID },
    request: { description: "a message", json: peerMessageSchema },
    responses: { 200: { description: "the echo", json: peerMessageResponseSchema } },
    problems: [
      "ERR_BODY_MALFORMED",
      "ERR_BODY_INVALID",
      "ERR_UNSUPPORTED_MEDIA_TYPE",
      "ERR_PEER_SESSION_GONE",
    ],
  },
  "sessions.close": {
    summary: "Close the session",
    params: { sessionId: SESSION_ID },
    responses: { 204: { description: "closed" } },
    problems: ["ERR_PEER_SESSION_GONE"],
  },
  "channels.open": {
    summary: "Open a CPNS secure channel under the session, keyed from this Digest exchange",
    responses: { 201: { description: "opened", json: channelOpenedSchema } },
    problems: ["ERR_PEER_SESSION_GONE"],
  },
  "channels.send": {
    summary:
      "One channel record; its inner request reaches the session routes, for that session only",
    description: "No Digest: the AEAD record authenticates itself.",
    params: { channelId: "the channel's id" },
    request: { description: "a sealed record", media: CHANNEL_MEDIA },
    responses: { 200: { description: "the sealed answer", media: CHANNEL_MEDIA } },
    problems: [
      "ERR_UNSUPPORTED_MEDIA_TYPE",
      "ERR_CHANNEL_UNKNOWN",
      "ERR_CHANNEL_RECORD",
      "ERR_CHANNEL_REPLAY",
      "ERR_CHANNEL_CLOSED",
      "ERR_CHANNEL_NESTED",
    ],
  },
  "api.document": {
    summary: "This document",
    responses: { 200: { description: "OpenAPI 3.1", media: "application/json" } },
    problems: [],
  },
  "api.page": {
    summary: "This document as a readable page",
    responses: { 200: { description: "HTML", media: "text/html" } },
    problems: [],
  },
  relay: {
    summary: "Relay to the CPNS Server for a PNE with a live session",
    description:
      "Any method. Proxy-Authorization carries the session's Digest (proxy Digest, 407 and Proxy-Authenticate, qop auth-int); the PNE's own Authorization, its Digest with the CPNS Server, passes untouched, so the server authenticates the PNE end to end. The answer is the CPNS Server's, passed through: see the server's /openapi.json for the path after /cpns/v1/.",
    params: { serverPath: "the CPNS Server path after /cpns/v1/ (may contain /)" },
    responses: {},
    passThrough: "the CPNS Server's answer, passed through unchanged: see its /openapi.json",
    problems: ["ERR_PEER_SESSION_GONE", "ERR_RELAY_UPSTREAM"],
  },
};

const DIGEST_FAILURES: readonly ErrorCode[] = [
  "ERR_DIGEST_MALFORMED",
  "ERR_DIGEST_UNAUTHORIZED",
  "ERR_DIGEST_URI_MISMATCH",
];

const BY_CALLER: Record<
  GatewayCaller,
  { who: string; security: Array<Record<string, string[]>>; problems: readonly ErrorCode[] }
> = {
  anyone: { who: "Anyone (no credentials).", security: [{}], problems: [] },
  "otk-peer": {
    who: "A peer holding an OTK this PN GW offered it (Digest: username = its Entity ID, secret = base64url(OTK)).",
    security: [{ otkDigest: [] }],
    problems: DIGEST_FAILURES,
  },
  session: {
    who: "The peer of a live session (Digest: username = the session id, secret = the session secret); a path naming a session must name its own.",
    security: [{ sessionDigest: [] }],
    problems: [...DIGEST_FAILURES, "ERR_FORBIDDEN"],
  },
  "session-relay": {
    who: "A PNE with a live session (proxy Digest in Proxy-Authorization with the session's credentials).",
    security: [{ sessionProxyDigest: [] }],
    problems: [
      "ERR_PROXY_UNAUTHORIZED",
      "ERR_DIGEST_MALFORMED",
      "ERR_DIGEST_URI_MISMATCH",
      "ERR_FORBIDDEN",
    ],
  },
  "channel-record": {
    who: "Anyone holding the channel's keys: the record authenticates itself (no Digest).",
    security: [{}],
    problems: [],
  },
};

export interface GatewayDocOptions {
  gatewayId: string;
  realm: string;
}

export function gatewayDocument(options: GatewayDocOptions): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  for (const [route, policy] of Object.entries(GATEWAY_POLICY) as Array<
    [GatewayRouteId, (typeof GATEWAY_POLICY)[GatewayRouteId]]
  >) {
    const caller = BY_CALLER[policy.caller];
    const qop =
      policy.qop === "none"
        ? ""
        : ` Digest qop: ${policy.qop === "auth-int" ? "auth-int only" : "auth or auth-int"}.`;
    addOperation(
      paths,
      policy.method,
      policy.path,
      operation(route, OPERATIONS[route], {
        security: caller.security,
        description: `${caller.who}${qop}`,
        problems: ["ERR_BODY_TOO_LARGE", "ERR_INTERNAL", ...caller.problems],
        extensions: {
          "x-cpns-caller": policy.caller,
          "x-cpns-qop": policy.qop,
          "x-cpns-inner": policy.inner,
          "x-cpns-requirements": [...policy.requirements],
        },
      }),
    );
  }
  const realm = `realm "${options.realm}", algorithms (one challenge each, in this order): ${DEFAULT_ALGORITHMS.join(", ")}; no userhash; every answer to a verified request carries rspauth, which the peer must check.`;
  return {
    openapi: "3.1.0",
    info: {
      title: `PN GW ${options.gatewayId}`,
      version: "1",
      description: [
        "A PN GW of the OMA CPNS security framework: sessions with peers that hold a one-time key (CPNS-1/6, CPNS-3), secure channels under them, and the relay that carries a PNE's traffic to the CPNS Server.",
        "Errors are application/problem+json (RFC 9457) with a stable `code`.",
        "Generic OpenAPI tools cannot run the Digest operations: OpenAPI has no way to express a Digest exchange, the auth-int body hash, proxy Digest beside an end-to-end Authorization, or the rspauth a client must check.",
      ].join("\n\n"),
    },
    paths,
    components: {
      securitySchemes: {
        otkDigest: {
          type: "http",
          scheme: "digest",
          description: `HTTP Digest (RFC 7616) with a one-time key: username = the peer's Entity ID, secret = base64url(OTK) of an offer to that peer still waiting; qop auth or auth-int; ${realm}`,
        },
        sessionDigest: {
          type: "http",
          scheme: "digest",
          description: `HTTP Digest (RFC 7616) with the session's credentials: username = the session id, secret = the per-session secret derived from the OTK and the opening exchange; qop auth-int only; ${realm}`,
        },
        sessionProxyDigest: {
          type: "http",
          scheme: "digest",
          description: `Proxy Digest (RFC 7616 with 407, Proxy-Authenticate, Proxy-Authorization and Proxy-Authentication-Info) with the session's credentials, qop auth-int; the Authorization header is the PNE's Digest with the CPNS Server and is relayed untouched. Nonces live a minute beyond the session. ${realm}`,
        },
      },
      schemas: { Problem: PROBLEM_SCHEMA },
    },
  };
}
