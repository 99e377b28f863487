/**
 * Where a device keeps its EUKey and its agent state (seed 5.x.1: "kept by
 * the device side"). A port: memory here; the Node runtime keeps one JSON
 * file per entity with owner-only permissions (src/runtime/node-keystore.ts).
 *
 * Implements: AGENT-LIFECYCLE
 */
export interface DeviceRecord {
  entityId: string;
  serverUrl: string;
  userId: string;
  type: "PNE" | "PNGW";
  keyVersion: number;
  /** base64url(EUKey), the Digest secret; empty when the device holds no key. */
  eukey: string;
  machine: { value: string };
}

/** A key store problem (permissions, a damaged file); its message never holds key material. */
export class KeyStoreError extends Error {
  constructor(
    readonly code: "ERR_KEYSTORE_PERMISSIONS" | "ERR_KEYSTORE_CORRUPT",
    message: string,
  ) {
    super(message);
    this.name = "KeyStoreError";
  }
}

export interface DeviceKeyStore {
  get(entityId: string): Promise<DeviceRecord | undefined>;
  put(record: DeviceRecord): Promise<void>;
  list(): Promise<DeviceRecord[]>;
}

export class MemoryKeyStore implements DeviceKeyStore {
  readonly #records = new Map<string, DeviceRecord>();

  async get(entityId: string): Promise<DeviceRecord | undefined> {
    const record = this.#records.get(entityId);
    return record && { ...record };
  }

  async put(record: DeviceRecord): Promise<void> {
    this.#records.set(record.entityId, { ...record });
  }

  async list(): Promise<DeviceRecord[]> {
    return [...this.#records.values()].map((record) => ({ ...record }));
  }
}
