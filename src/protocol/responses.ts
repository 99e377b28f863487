/**
 * Issue #13 ("The API document"): the JSON answers of the CPNS Server and the PN GW as zod
 * schemas, so the OpenAPI document (src/api-doc/) is generated from the same definitions the
 * handlers' answer types are inferred from (src/protocol/schemas.ts re-exports the types):
 * a field added to an answer without its schema fails to compile, and one the schema has but
 * the answer lacks fails the document test (test/e2e/api-doc-responses.test.ts).
 *
 * Strict objects: a documented answer has exactly these fields.
 *
 * Implements: OPENAPI-SCHEMAS
 */
import * as z from "zod";

const entityType = z.enum(["PNE", "PNGW"]);
const epochSeconds = z.number().int().positive().describe("epoch seconds");
const isoTime = z.string().describe("ISO 8601 time");

export const healthSchema = z.strictObject({ status: z.literal("ok") });

export const serverInfoSchema = z.strictObject({
  service: z.literal("cpns"),
  version: z.literal(1),
  realm: z.string(),
  algorithms: z.array(z.string()).describe("the Digest algorithms offered, strongest first"),
});

export const adminKeySchema = z.strictObject({
  kty: z.literal("OKP"),
  crv: z.literal("X25519"),
  x: z.string().describe("base64url of the 32-byte X25519 public key"),
  pin: z.string().describe("base64url(SHA-256(x)): what an admin pins"),
  alg: z.literal("X25519-HKDF-SHA256-A256GCM"),
});

export const userCreatedSchema = z.strictObject({ userId: z.string(), createdAt: isoTime });

export const userListSchema = z.strictObject({ users: z.array(z.string()) });

export const enrollResponseSchema = z.strictObject({
  entityId: z.string(),
  userId: z.string(),
  type: entityType,
  keyVersion: z.number().int().positive(),
  rotated: z.boolean().describe("an existing key was replaced (the old one stopped working)"),
  tls: z.boolean().describe("the entity is declared to support TLS (plain HTTP refused)"),
  alg: z.string(),
  sealedKey: z.string().describe("the EUKey sealed under a key derived from the user's HA1"),
});

export const entityViewSchema = z.strictObject({
  entityId: z.string(),
  userId: z.string(),
  type: entityType,
  keyVersion: z.number().int().nonnegative(),
  state: z.string().describe("the entity machine's state (machines/entity.ts)"),
  tls: z.boolean(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const entityListSchema = z.strictObject({ entities: z.array(entityViewSchema) });

export const whoamiSchema = z.strictObject({
  entityId: z.string(),
  userId: z.string(),
  type: entityType,
  keyVersion: z.number().int().positive(),
});

export const otkViewSchema = z.strictObject({
  otkId: z.string(),
  issuerId: z.string(),
  peerId: z.string(),
  expiresAt: epochSeconds,
  state: z.string().describe("the OTK machine's state (machines/otk.ts)"),
  endpoint: z.string().optional().describe("where the peer reaches the issuing PN GW"),
  tlsPin: z.string().optional().describe("the issuing PN GW's TLS key pin, sha256//..."),
});

export const depositOtkResponseSchema = otkViewSchema.extend({ peerType: entityType });

export const otkInboxSchema = z.strictObject({ otks: z.array(otkViewSchema) });

export const otkDeliverySchema = otkViewSchema.extend({
  alg: z.string(),
  sealedOtk: z.string().describe("the OTK sealed under a key derived from the peer's EUKey"),
});

export const channelOpenedSchema = z.strictObject({
  sessionId: z.string(),
  expiresAt: epochSeconds,
  suite: z.string().describe("the channel's AEAD suite"),
});

export const entityStateSchema = z.strictObject({
  machine: z.string(),
  entityId: z.string(),
  value: z.unknown().describe("the machine's state value"),
  context: z.strictObject({
    keyVersion: z.number().int().nonnegative(),
    userId: z.string().nullable(),
    entityType: z.string().nullable(),
  }),
});

/** An OTK's or a secure channel's live machine state (admin only; the sealed key never in it). */
export const liveStateSchema = z.strictObject({
  machine: z.string(),
  id: z.string(),
  value: z.unknown().describe("the machine's state value"),
  context: z.record(z.string(), z.unknown()),
});

const simScalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** One step of the reviewer page's simulation (src/reviewer-page/simulate.ts): nothing is kept. */
export const simAnswerSchema = z.strictObject({
  machine: z.string(),
  snapshot: z.strictObject({
    value: z.string(),
    context: z.record(z.string(), simScalar),
    status: z.enum(["active", "done"]),
  }),
  step: z
    .strictObject({
      event: z.string(),
      accepted: z.boolean(),
      reason: z.string().nullable(),
      target: z.string().nullable(),
      requirements: z.array(z.string()),
    })
    .nullable(),
  events: z.array(
    z.strictObject({
      type: z.string(),
      handled: z.boolean(),
      guards: z.array(z.string().nullable()),
      example: z.record(z.string(), simScalar),
    }),
  ),
});

/** The reviewer model (src/reviewer-page/describe.ts) and XState exports: documented as objects. */
export const modelJsonSchema = z.record(z.string(), z.unknown());

// The PN GW's own answers (base path /cpns-gw/v1).

export const gatewayInfoSchema = z.strictObject({
  service: z.literal("cpns-gw"),
  version: z.literal(1),
  gatewayId: z.string(),
  realm: z.string().describe('"cpns-gw:<gatewayId>": the realm of its Digest'),
});

export const peerSessionSchema = z.strictObject({
  sessionId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  gatewayId: z.string(),
  peerId: z.string(),
  expiresAt: epochSeconds,
});

export const peerMessageResponseSchema = z.strictObject({
  sessionId: z.string(),
  from: z.string(),
  echo: z.string(),
});

/** RFC 9457 problem details as src/errors.ts renders them. */
export const problemSchema = z.strictObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string().optional(),
});

export type ServerInfo = z.infer<typeof serverInfoSchema>;
export type UserCreated = z.infer<typeof userCreatedSchema>;
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;
export type EntityView = z.infer<typeof entityViewSchema>;
export type Whoami = z.infer<typeof whoamiSchema>;
export type OtkView = z.infer<typeof otkViewSchema>;
export type DepositOtkResponse = z.infer<typeof depositOtkResponseSchema>;
export type OtkInboxResponse = z.infer<typeof otkInboxSchema>;
export type OtkDeliveryResponse = z.infer<typeof otkDeliverySchema>;
export type ChannelOpened = z.infer<typeof channelOpenedSchema>;
export type GatewayInfo = z.infer<typeof gatewayInfoSchema>;
export type PeerSessionView = z.infer<typeof peerSessionSchema>;
export type PeerMessageResponse = z.infer<typeof peerMessageResponseSchema>;
