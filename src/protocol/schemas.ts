/**
 * Request and response bodies of the CPNS Server API (base path /cpns/v1), as
 * zod schemas: strict objects (unknown fields are refused), bounded ids without
 * control characters. Shared by the server, the agent and the CLI.
 */
import { z } from "zod";

/** Entity IDs and User IDs: 1-64 characters, letters, digits and . _ @ - (no leading punctuation). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const idSchema = z.string().max(64).regex(ID_PATTERN, "1-64 of A-Z a-z 0-9 . _ @ -");

export const entityTypeSchema = z.enum(["PNE", "PNGW"]);

const hexHash = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));

export const createUserSchema = z
  .strictObject({
    userId: idSchema,
    /** Either the password (the server derives HA1 and forgets it)... */
    password: z.string().min(1).max(1024).optional(),
    /** ...or HA1 per hash, computed by the caller, so the password never leaves it. */
    ha1: z
      .strictObject({ "SHA-256": hexHash(64), "SHA-512-256": hexHash(64), MD5: hexHash(32) })
      .optional(),
  })
  .refine((body) => (body.password === undefined) !== (body.ha1 === undefined), {
    message: "give exactly one of password and ha1",
  });

export const enrollSchema = z.strictObject({
  entityId: idSchema,
  type: entityTypeSchema,
});

export type CreateUserBody = z.infer<typeof createUserSchema>;
export type EnrollBody = z.infer<typeof enrollSchema>;

export interface EnrollResponse {
  entityId: string;
  userId: string;
  type: "PNE" | "PNGW";
  keyVersion: number;
  /** True when an existing key was replaced (the old one stopped working). */
  rotated: boolean;
  alg: string;
  sealedKey: string;
}

export interface EntityView {
  entityId: string;
  userId: string;
  type: "PNE" | "PNGW";
  keyVersion: number;
  state: string;
  createdAt: string;
  updatedAt: string;
}

export interface ServerInfo {
  service: "cpns";
  version: 1;
  realm: string;
  algorithms: string[];
}
