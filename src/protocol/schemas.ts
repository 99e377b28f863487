/**
 * Request and response bodies of the CPNS Server API (base path /cpns/v1), as
 * zod schemas: strict objects (unknown fields are refused), bounded ids without
 * control characters. Shared by the server, the agent and the CLI.
 *
 * Implements: SERVER-API, SERVER-BAD-INPUT
 * Implements: TLSDECL-ENROLL
 */
import * as z from "zod";

// The answers' types come from their zod schemas (issue #13: the API document is generated from them).
export type {
  DepositOtkResponse,
  EnrollResponse,
  EntityView,
  GatewayInfo,
  OtkDeliveryResponse,
  OtkInboxResponse,
  OtkView,
  PeerMessageResponse,
  PeerSessionView,
  ServerInfo,
} from "./responses.ts";

/** Entity IDs and User IDs: 1-64 characters, letters, digits and . _ @ - (no leading punctuation). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const idSchema = z.string().max(64).regex(ID_PATTERN, "1-64 of A-Z a-z 0-9 . _ @ -");

export const entityTypeSchema = z.enum(["PNE", "PNGW"]);

const hexHash = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));

/** base64url without padding, bounded. */
const base64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/);

/**
 * A create-user body (issue #9 items 6-7) names the user and carries its
 * password in exactly one of three forms: `sealed` to the server's admin
 * transport key (src/protocol/admin-transport.ts; the only form accepted over
 * plain HTTP), `password` in clear (accepted over TLS only), or `ha1` (the
 * retired form: HA1 values cannot be policy-checked, so the server refuses it
 * with its own code; the shape is still checked first).
 */
export const createUserSchema = z
  .strictObject({
    userId: idSchema,
    sealed: z
      .strictObject({
        alg: z.literal("X25519-HKDF-SHA256-A256GCM"),
        kid: base64url(43),
        epk: base64url(43),
        // iv(12) + JSON payload (password up to 1024 UTF-16 units, up to 6 bytes each escaped) + tag(16).
        ct: base64url(8800),
      })
      .optional(),
    password: z.string().min(1).max(1024).optional(),
    ha1: z
      .strictObject({ "SHA-256": hexHash(64), "SHA-512-256": hexHash(64), MD5: hexHash(32) })
      .optional(),
  })
  .refine(
    (body) =>
      [body.sealed, body.password, body.ha1].filter((form) => form !== undefined).length === 1,
    { message: "give exactly one of sealed, password and ha1" },
  );

export const enrollSchema = z.strictObject({
  entityId: idSchema,
  type: entityTypeSchema,
  /**
   * Issue #10 (tls-declare): the entity supports TLS, so the server must refuse
   * it plain HTTP from now on. Absent = false (older clients). Once declared it
   * stays declared: a rotation may add it, never withdraw it.
   */
  tls: z.boolean().optional(),
});

export type CreateUserBody = z.infer<typeof createUserSchema>;
export type EnrollBody = z.infer<typeof enrollSchema>;

// One-time keys (seed 5.x.2, second bullet; spec/otk.md).

/** OTK ids: 16-48 random bytes in base64url, chosen by the issuing PN GW. */
export const otkIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, "22-64 base64url characters");

const base64urlSchema = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, "base64url without padding");

/** Where the peer reaches the issuing PN GW: an absolute http(s) URL. */
export const endpointSchema = z
  .string()
  .max(2048)
  // Printable ASCII only: URL parsing silently drops tabs and line breaks, and the
  // raw string is what the server stores and hands to the peer.
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === "http:" || url.protocol === "https:") && !url.username && !url.password
      );
    } catch {
      return false;
    }
  }, "an absolute http(s) URL without credentials");

/** A TLS key pin, RFC 7469 form (issue #10, OTK-TLS-PIN): sha256// and base64 of 32 bytes. */
export const tlsPinSchema = z.string().regex(/^sha256\/\/[A-Za-z0-9+/]{43}=$/, "sha256//<base64>");

export const depositOtkSchema = z.strictObject({
  otkId: otkIdSchema,
  peerId: idSchema,
  /** Epoch seconds. */
  expiresAt: z.number().int().positive().max(1e11),
  sealedOtk: base64urlSchema(256),
  endpoint: endpointSchema.optional(),
  /** The PN GW's TLS pin, bound into the sealed OTK's AAD. */
  tlsPin: tlsPinSchema.optional(),
});

export type DepositOtkBody = z.infer<typeof depositOtkSchema>;

// The PN GW's own API (src/gateway/, base path /cpns-gw/v1).

/** What a peer accepts as the PN GW's session answer. */
export const peerSessionViewSchema = z.object({
  sessionId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  gatewayId: z.string(),
  peerId: z.string(),
  expiresAt: z.number().int().positive(),
});

export const peerMessageSchema = z.strictObject({ message: z.string().max(4096) });
