/**
 * Seed 5.x.1: "Assigned EUKey is stored in CPNS Server together with Entity ID
 * and User ID." These are the stored shapes. Secret fields hold AtRestCipher
 * output only; the machine snapshot is the persisted state of the entity
 * lifecycle machine (machines/entity.ts), written in the same record so the
 * state and the key it governs can never disagree.
 */
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
  createdAt: string;
  updatedAt: string;
}
