/**
 * Seed 5.x.1: "Assigned EUKey is stored in CPNS Server together with Entity ID
 * and User ID." These are the stored shapes. Secret fields hold AtRestCipher
 * output only; the machine snapshot is the persisted state of the entity
 * lifecycle machine (machines/entity.ts), written in the same record so the
 * state and the key it governs can never disagree.
 *
 * Implements: SEED-5.x.1-2
 */
import * as z from "zod";
import type { HashName } from "../crypto/hash.ts";

export type EntityType = "PNE" | "PNGW";

export interface UserRecord {
  v: 1;
  userId: string;
  /** Sealed HA1 = H(userId:realm:password) per hash, for the server's realm. Never the password. */
  ha1: Record<HashName, string>;
  createdAt: string;
}

export interface PersistedMachineState {
  value: string;
  context: Record<string, unknown>;
}

export interface EntityRecord {
  v: 1;
  entityId: string;
  userId: string;
  type: EntityType;
  keyVersion: number;
  /** Sealed EUKey (32 bytes) of the current version; absent once revoked. */
  eukey?: string;
  machine: PersistedMachineState;
  /**
   * Issue #10 (tls-declare): the entity declared at enrollment that it supports
   * TLS, so the server refuses it plain HTTP. Absent in records written before
   * the declaration existed, which means false.
   */
  tls?: boolean;
  createdAt: string;
  updatedAt: string;
}

/**
 * What a record read back must look like. A record that does not match was
 * damaged or written by something else: it is reported as ERR_STORE_CORRUPT
 * (503), never handed to the machine or a handler, where it would become a 500.
 */
const machineStateSchema = z.object({
  value: z.string(),
  context: z.record(z.string(), z.unknown()),
});

export const entityRecordSchema = z.object({
  v: z.literal(1),
  entityId: z.string(),
  userId: z.string(),
  type: z.enum(["PNE", "PNGW"]),
  keyVersion: z.number().int().nonnegative(),
  eukey: z.string().optional(),
  machine: machineStateSchema,
  tls: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const userRecordSchema = z.object({
  v: z.literal(1),
  userId: z.string(),
  ha1: z.object({ "SHA-256": z.string(), "SHA-512-256": z.string(), MD5: z.string() }),
  createdAt: z.string(),
});

/**
 * One OTK as the server keeps it (seed 5.x.2). `otk` holds the AtRestCipher
 * output until delivery and is removed then: after its single delivery the
 * server keeps only the lifecycle (machines/otk.ts), which the consume step
 * and replayed deposits still need.
 */
export interface OtkRecord {
  v: 1;
  otkId: string;
  issuerId: string;
  issuerKeyVersion: number;
  peerId: string;
  peerType: EntityType;
  /** Epoch seconds. */
  expiresAt: number;
  endpoint?: string;
  /** Issue #10 (OTK-TLS-PIN): the PN GW's TLS pin, bound into the sealed OTK's AAD. */
  tlsPin?: string;
  otk?: string;
  machine: PersistedMachineState;
  createdAt: string;
  updatedAt: string;
}

export const otkRecordSchema = z.object({
  v: z.literal(1),
  otkId: z.string(),
  issuerId: z.string(),
  issuerKeyVersion: z.number().int().positive(),
  peerId: z.string(),
  peerType: z.enum(["PNE", "PNGW"]),
  expiresAt: z.number().int(),
  endpoint: z.string().optional(),
  tlsPin: z.string().optional(),
  otk: z.string().optional(),
  machine: machineStateSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
