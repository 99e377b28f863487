/**
 * Issue #13 ("The API document"): the CPNS Server's OpenAPI 3.1 document, generated from its
 * policy table (src/server/policy.ts: every route, who may call it, its qop) and the zod
 * schemas its handlers read requests with (src/protocol/schemas.ts) and type their answers by
 * (src/protocol/responses.ts). The table below is keyed by RouteId: a route added to the
 * policy without a description here does not compile.
 *
 * Digest is described as what it is: `type: http, scheme: digest` (the IANA-registered
 * scheme), with this server's profile in words and the per-route qop and principals as x-
 * fields. Generic OpenAPI tools cannot run these operations; the document says so.
 *
 * Implements: OPENAPI-DOC, OPENAPI-DIGEST, OPENAPI-PROBLEMS
 */
import { DEFAULT_ALGORITHMS, type DigestAlgorithm } from "../digest/index.ts";
import type { ErrorCode } from "../errors.ts";
import {
  adminKeySchema,
  channelOpenedSchema,
  depositOtkResponseSchema,
  enrollResponseSchema,
  entityListSchema,
  entityStateSchema,
  entityViewSchema,
  healthSchema,
  liveStateSchema,
  modelJsonSchema,
  otkDeliverySchema,
  otkInboxSchema,
  otkViewSchema,
  serverInfoSchema,
  simAnswerSchema,
  userCreatedSchema,
  userListSchema,
  whoamiSchema,
} from "../protocol/responses.ts";
import { createUserSchema, depositOtkSchema, enrollSchema } from "../protocol/schemas.ts";
import { POLICY, type PrincipalKind, type RouteId } from "../server/policy.ts";
import {
  addOperation,
  type OpenApiDocument,
  type OperationDoc,
  operation,
  PROBLEM_SCHEMA,
} from "./build.ts";

const CHANNEL_MEDIA = "application/vnd.cpns.channel";
const JSON_BODY: readonly ErrorCode[] = [
  "ERR_BODY_MALFORMED",
  "ERR_BODY_INVALID",
  "ERR_UNSUPPORTED_MEDIA_TYPE",
];
const OTK_ID = "the OTK's id (22-64 base64url characters)";
const ENTITY_ID = "an Entity ID of the calling user's";

const OPERATIONS: Record<RouteId, OperationDoc> = {
  health: {
    summary: "Liveness",
    responses: { 200: { description: "up", json: healthSchema } },
    problems: [],
  },
  info: {
    summary: "The service, its Digest realm and algorithms",
    responses: { 200: { description: "the server", json: serverInfoSchema } },
    problems: [],
  },
  "admin.key": {
    summary: "The admin transport key (public half) that create-user passwords are sealed to",
    responses: { 200: { description: "an X25519 public key as a JWK", json: adminKeySchema } },
    problems: [],
  },
  "users.create": {
    summary: "Create a CPNS User (seed 5.x.1)",
    description:
      "Exactly one of `sealed` (the password sealed to the admin transport key; the only form accepted over plain HTTP), `password` (over TLS only) and `ha1` (retired: refused).",
    request: { description: "the user and its password", json: createUserSchema },
    responses: { 201: { description: "created", json: userCreatedSchema } },
    problems: [
      ...JSON_BODY,
      "ERR_USER_EXISTS",
      "ERR_ID_TAKEN",
      "ERR_ADMIN_PLAIN_SECRET",
      "ERR_ADMIN_HA1_RETIRED",
      "ERR_ADMIN_ENVELOPE_KEY",
      "ERR_ADMIN_ENVELOPE_INVALID",
      "ERR_ADMIN_ENVELOPE_EXPIRED",
      "ERR_WEAK_PASSWORD",
    ],
  },
  "users.list": {
    summary: "List the User IDs",
    responses: { 200: { description: "every User ID, sorted", json: userListSchema } },
    problems: [],
  },
  "enrollments.create": {
    summary: "Enroll an entity and assign its EUKey (seed 5.x.1); again to rotate it",
    request: { description: "the entity", json: enrollSchema },
    responses: {
      200: {
        description:
          "the key was rotated; WWW-Authenticate carries the new key's first challenge (qop auth-int)",
        json: enrollResponseSchema,
      },
      201: {
        description:
          "enrolled; WWW-Authenticate carries the new key's first challenge (qop auth-int), so the entity's first request needs no 401",
        json: enrollResponseSchema,
      },
    },
    problems: [
      ...JSON_BODY,
      "ERR_ENTITY_TYPE_MISMATCH",
      "ERR_NOT_OWNER",
      "ERR_ENTITY_STATE",
      "ERR_TLS_DECLARATION_FIXED",
      "ERR_TLS_REQUIRED",
      "ERR_ID_TAKEN",
      "ERR_STORE_CORRUPT",
    ],
  },
  "entities.list": {
    summary: "The calling user's entities (seed 5.x.3)",
    responses: { 200: { description: "its entities", json: entityListSchema } },
    problems: [],
  },
  "entities.get": {
    summary: "One of the calling user's entities",
    params: { entityId: ENTITY_ID },
    responses: { 200: { description: "the entity", json: entityViewSchema } },
    problems: ["ERR_NOT_FOUND"],
  },
  "entities.revoke": {
    summary: "Revoke an entity's EUKey",
    params: { entityId: ENTITY_ID },
    responses: { 200: { description: "revoked", json: entityViewSchema } },
    problems: ["ERR_NOT_FOUND", "ERR_ENTITY_STATE"],
  },
  whoami: {
    summary: "The calling entity as the server knows it (seed 5.x.2)",
    responses: { 200: { description: "the entity", json: whoamiSchema } },
    problems: [],
  },
  "otks.deposit": {
    summary: "A PN GW deposits a one-time key for a peer, sealed under its own EUKey",
    description:
      "`endpoint` must be an absolute http(s) URL without credentials (checked beyond the schema).",
    request: { description: "the sealed OTK", json: depositOtkSchema },
    responses: { 201: { description: "deposited", json: depositOtkResponseSchema } },
    problems: [
      ...JSON_BODY,
      "ERR_OTK_PAIRING_REFUSED",
      "ERR_ENTITY_STATE",
      "ERR_OTK_EXPIRY",
      "ERR_OTK_UNSEAL",
      "ERR_OTK_REPLAYED",
      "ERR_STORE_CORRUPT",
    ],
  },
  "otks.inbox": {
    summary: "The one-time keys waiting for the calling entity",
    responses: { 200: { description: "waiting OTKs (no key material)", json: otkInboxSchema } },
    problems: [],
  },
  "otks.deliver": {
    summary: "Fetch a one-time key, sealed under the caller's EUKey (once)",
    params: { otkId: OTK_ID },
    responses: { 200: { description: "the sealed OTK", json: otkDeliverySchema } },
    problems: [
      "ERR_NOT_FOUND",
      "ERR_OTK_NOT_ADDRESSEE",
      "ERR_OTK_STATE",
      "ERR_OTK_GONE",
      "ERR_STORE_CORRUPT",
    ],
  },
  "otks.consume": {
    summary: "The issuing PN GW consumes its OTK when the peer proved it",
    params: { otkId: OTK_ID },
    responses: { 200: { description: "consumed", json: otkViewSchema } },
    problems: ["ERR_NOT_FOUND", "ERR_OTK_NOT_ISSUER", "ERR_OTK_STATE", "ERR_OTK_GONE"],
  },
  "channels.open": {
    summary: "Open a CPNS secure channel (seed 5.x.4) keyed from this Digest exchange",
    responses: { 201: { description: "opened", json: channelOpenedSchema } },
    problems: [],
  },
  "channels.send": {
    summary: "One channel record: an inner request sealed under the channel's keys",
    description:
      "No Digest: the AEAD record authenticates itself. The answer is a sealed record holding the inner route's answer (documented under that route).",
    params: { sessionId: "the channel's session id" },
    request: { description: "a sealed record", media: CHANNEL_MEDIA },
    responses: { 200: { description: "the sealed answer", media: CHANNEL_MEDIA } },
    problems: [
      "ERR_UNSUPPORTED_MEDIA_TYPE",
      "ERR_CHANNEL_UNKNOWN",
      "ERR_CHANNEL_RECORD",
      "ERR_CHANNEL_REPLAY",
      "ERR_CHANNEL_CLOSED",
      "ERR_CHANNEL_NESTED",
      "ERR_TLS_REQUIRED",
    ],
  },
  "model.page": {
    summary: "The reviewer page: every machine drawn",
    responses: { 200: { description: "HTML", media: "text/html" } },
    problems: [],
  },
  "model.icon": {
    summary: "The reviewer page's icon",
    responses: { 200: { description: "SVG", media: "image/svg+xml" } },
    problems: [],
  },
  "model.machines": {
    summary: "The formal model as JSON",
    responses: { 200: { description: "the machines", json: modelJsonSchema } },
    problems: [],
  },
  "model.xstate": {
    summary: "One machine as XState JSON",
    params: { machineId: "a machine id (machines/)" },
    responses: { 200: { description: "the machine", json: modelJsonSchema } },
    problems: ["ERR_NOT_FOUND"],
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
  "model.simulate": {
    summary: "One simulation step of a machine (the reviewer page's sandbox)",
    description:
      "Pure: the caller holds the snapshot; the answer is xstate's transition() of it, and nothing is kept or written on the server. Body `{input}` to start, or `{snapshot, event}` (at most 4 KiB, flat scalars); time-based guards read the event's own time, never the server's clock.",
    params: { machineId: "a machine id (machines/)" },
    request: { description: "`{input}` or `{snapshot, event}`", media: "application/json" },
    responses: {
      200: { description: "the next snapshot and the events it accepts", json: simAnswerSchema },
    },
    problems: [
      "ERR_SIM_MACHINE_UNKNOWN",
      "ERR_SIM_REQUEST_INVALID",
      "ERR_SIM_STATE_UNKNOWN",
      "ERR_SIM_SNAPSHOT_INVALID",
      "ERR_SIM_INPUT_INVALID",
      "ERR_SIM_EVENT_UNKNOWN",
      "ERR_SIM_EVENT_INVALID",
      ...JSON_BODY,
    ],
  },
  "otks.state": {
    summary: "One OTK's live machine state (never its key)",
    params: { otkId: "any OTK id" },
    responses: { 200: { description: "the state", json: liveStateSchema } },
    problems: ["ERR_NOT_FOUND"],
  },
  "channels.state": {
    summary: "One open secure channel's live machine state",
    params: { sessionId: "any secure-channel session id" },
    responses: { 200: { description: "the state", json: liveStateSchema } },
    problems: ["ERR_NOT_FOUND"],
  },
  "entities.state": {
    summary: "One entity's live machine state",
    params: { entityId: "any Entity ID" },
    responses: { 200: { description: "the state", json: entityStateSchema } },
    problems: ["ERR_NOT_FOUND"],
  },
};

/** What any request may be answered: the shell's body ceiling, and a fault of its own. */
const EVERY_ROUTE: readonly ErrorCode[] = ["ERR_BODY_TOO_LARGE", "ERR_INTERNAL"];
/** The guard of an authenticated route (src/server/guard.ts) and the stores behind it. */
const AUTHENTICATED: readonly ErrorCode[] = [
  "ERR_DIGEST_MALFORMED",
  "ERR_DIGEST_UNAUTHORIZED",
  "ERR_DIGEST_URI_MISMATCH",
  "ERR_ADMIN_UNAUTHORIZED",
  "ERR_FORBIDDEN",
  "ERR_RATE_LIMITED",
  "ERR_STORE_UNAVAILABLE",
  "ERR_STORE_BUSY",
  "ERR_KV_CONTENDED",
  "ERR_LEDGER_EPOCH_LOST",
];

const WHO: Record<PrincipalKind, string> = {
  anonymous: "anyone",
  admin: "admin (Bearer token)",
  user: "a CPNS User (Digest, User ID + password)",
  PNE: "a PNE (Digest, Entity ID + EUKey)",
  PNGW: "a PN GW (Digest, Entity ID + EUKey)",
};

export interface ServerDocOptions {
  realm: string;
  algorithms?: readonly DigestAlgorithm[];
  nonceLifetimeSeconds?: number;
}

export function serverDocument(options: ServerDocOptions): OpenApiDocument {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  const offered = algorithms.join(", ");
  const lifetime = options.nonceLifetimeSeconds ?? 300;
  const paths: OpenApiDocument["paths"] = {};
  for (const [route, policy] of Object.entries(POLICY) as Array<
    [RouteId, (typeof POLICY)[RouteId]]
  >) {
    const allow = [...policy.allow] as PrincipalKind[];
    const open = allow.includes("anonymous");
    const digestKinds = allow.filter((k) => k === "user" || k === "PNE" || k === "PNGW");
    const security: Array<Record<string, string[]>> = [];
    if (open) security.push({});
    else {
      if (digestKinds.length > 0) security.push({ digest: [] });
      if (allow.includes("admin")) security.push({ adminBearer: [] });
    }
    const withEntity = digestKinds.some((k) => k !== "user");
    const problems: ErrorCode[] = [...EVERY_ROUTE];
    if (!open)
      problems.push(...AUTHENTICATED, ...(withEntity ? (["ERR_TLS_REQUIRED"] as const) : []));
    const who = open
      ? "Anyone (no credentials)."
      : `Who may call: ${allow.map((k) => WHO[k]).join("; ")}.`;
    const qop =
      open || digestKinds.length === 0
        ? ""
        : ` Digest qop: ${policy.qop === "auth-int" ? "auth-int only (the body is bound to the response)" : "auth or auth-int"}.`;
    addOperation(
      paths,
      policy.method,
      policy.path,
      operation(route, OPERATIONS[route], {
        security,
        description: `${who}${qop}`,
        problems,
        extensions: {
          "x-cpns-allow": allow,
          ...(open ? {} : { "x-cpns-qop": digestKinds.length > 0 ? policy.qop : "none" }),
          "x-cpns-requirements": [...policy.requirements],
        },
      }),
    );
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "CPNS Server",
      version: "1",
      description: [
        "The CPNS Server of the OMA CPNS security framework: CPNS Users, entity enrollment and EUKeys, one-time keys, secure channels.",
        "Errors are application/problem+json (RFC 9457) with a stable `code`.",
        'Authentication is HTTP Digest (RFC 7616) with the profile in the `digest` security scheme, or an admin Bearer token. Generic OpenAPI tools ("try it out", code generators) cannot run the Digest operations: OpenAPI has no way to express a Digest exchange, its qop=auth-int body hash or the rspauth the client must check. Use a Digest client (this project\'s agent, curl --digest for qop=auth routes).',
      ].join("\n\n"),
    },
    paths,
    components: {
      securitySchemes: {
        digest: {
          type: "http",
          scheme: "digest",
          description: [
            `HTTP Digest, RFC 7616 (RFC 2617 clients accepted), realm "${options.realm}".`,
            `Algorithms offered, one challenge each in this order, all sharing one nonce and opaque (no other is accepted): ${offered}.`,
            "qop: `auth` and `auth-int`; routes whose x-cpns-qop is `auth-int` accept only auth-int (the request body is hashed into the response).",
            "The server proves itself: every answer to a verified request carries Authentication-Info with rspauth (and nextnonce when the nonce nears its end); a client must check it.",
            "userhash=true is accepted; charset=UTF-8.",
            `Nonces are stateless and tamper-evident, valid ${lifetime} s; an expired but genuine nonce is answered 401 with stale=true; a repeated nonce-count is refused.`,
            "Users: username = User ID, secret = password. Entities: username = Entity ID, secret = base64url(EUKey) without padding.",
            "Over budget of failed attempts the answer is 429 with Retry-After.",
          ].join(" "),
        },
        adminBearer: {
          type: "http",
          scheme: "bearer",
          description:
            "The operator's admin token (Authorization: Bearer <token>); admin routes only.",
        },
      },
      schemas: { Problem: PROBLEM_SCHEMA },
    },
  };
}
