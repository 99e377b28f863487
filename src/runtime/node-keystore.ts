/**
 * The device key store on Node (seed 5.x.1: the EUKey "kept by the device
 * side"): one JSON file per entity in a folder (default ./.cpns-device, env
 * CPNS_KEYSTORE), the folder 0700 and each file 0600, every write atomic
 * (temporary file, fsync, rename) so a crash leaves the old record or the new
 * one, never half of either. File names are base64url(Entity ID), so any id is
 * a safe name. Like ssh with a private key, a folder or file that others can
 * read is refused rather than used.
 *
 * Implements: AGENT-LIFECYCLE
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type DeviceKeyStore, type DeviceRecord, KeyStoreError } from "../agent/keystore.ts";
import { fromBase64url, fromUtf8, toBase64url, utf8 } from "../crypto/bytes.ts";

export const DEFAULT_KEYSTORE_DIR = ".cpns-device";

/** Thrown by the key store; the class lives with the port so the CLI can name it without this file. */
export { KeyStoreError };

/** POSIX permission bits mean nothing on Windows; there the folder's ACL applies. */
const CHECK_MODES = process.platform !== "win32";

const SUFFIX = ".json";

/** The file name that holds an entity's record: base64url of its UTF-8 id, never a path. */
export function keyFileName(entityId: string): string {
  return `${toBase64url(utf8(entityId))}${SUFFIX}`;
}

function isDeviceRecord(value: unknown): value is DeviceRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  const machine = r.machine as Record<string, unknown> | null | undefined;
  return (
    typeof r.entityId === "string" &&
    typeof r.serverUrl === "string" &&
    typeof r.userId === "string" &&
    (r.type === "PNE" || r.type === "PNGW") &&
    typeof r.keyVersion === "number" &&
    Number.isInteger(r.keyVersion) &&
    r.keyVersion >= 0 &&
    typeof r.eukey === "string" &&
    typeof machine === "object" &&
    machine !== null &&
    typeof machine.value === "string"
  );
}

export class NodeKeyStore implements DeviceKeyStore {
  readonly dir: string;

  constructor(dir: string = DEFAULT_KEYSTORE_DIR) {
    this.dir = resolve(dir);
  }

  /** Where an entity's record lives (it may not exist yet). */
  fileOf(entityId: string): string {
    return join(this.dir, keyFileName(entityId));
  }

  /** Creates the folder owner-only, or checks that an existing one is. */
  async #prepare(create: boolean): Promise<void> {
    let info = await stat(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (!info) {
      if (!create) return;
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      // mkdir's mode is filtered by the umask; say exactly what we mean.
      if (CHECK_MODES) await chmod(this.dir, 0o700);
      info = await stat(this.dir);
    }
    if (!info.isDirectory()) {
      throw new KeyStoreError("ERR_KEYSTORE_PERMISSIONS", `${this.dir} is not a folder`);
    }
    if (CHECK_MODES && (info.mode & 0o077) !== 0) {
      throw new KeyStoreError(
        "ERR_KEYSTORE_PERMISSIONS",
        `key store ${this.dir} is open to other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 700 on it`,
      );
    }
  }

  async #read(file: string): Promise<DeviceRecord | undefined> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(file, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      const info = await handle.stat();
      if (CHECK_MODES && (info.mode & 0o077) !== 0) {
        throw new KeyStoreError(
          "ERR_KEYSTORE_PERMISSIONS",
          `key file ${file} is open to other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(fromUtf8(new Uint8Array(await handle.readFile())));
      } catch {
        parsed = undefined;
      }
      if (!isDeviceRecord(parsed)) {
        throw new KeyStoreError("ERR_KEYSTORE_CORRUPT", `key file ${file} is damaged`);
      }
      return parsed;
    } finally {
      await handle.close();
    }
  }

  async get(entityId: string): Promise<DeviceRecord | undefined> {
    await this.#prepare(false);
    const record = await this.#read(this.fileOf(entityId));
    if (record && record.entityId !== entityId) {
      throw new KeyStoreError(
        "ERR_KEYSTORE_CORRUPT",
        `key file ${this.fileOf(entityId)} is damaged`,
      );
    }
    return record;
  }

  async put(record: DeviceRecord): Promise<void> {
    if (!isDeviceRecord(record)) throw new TypeError("keystore: not a device record");
    await this.#prepare(true);
    const target = this.fileOf(record.entityId);
    const temp = join(this.dir, `.${randomBytes(8).toString("hex")}.tmp`);
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await this.#syncDir();
  }

  /** Makes the rename durable; not every platform can open a folder, so best effort. */
  async #syncDir(): Promise<void> {
    try {
      const dir = await open(this.dir, "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // e.g. Windows: the rename is still atomic, only its durability is the OS's business.
    }
  }

  async list(): Promise<DeviceRecord[]> {
    await this.#prepare(false);
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const records: DeviceRecord[] = [];
    for (const name of names.sort()) {
      if (name.startsWith(".") || !name.endsWith(SUFFIX)) continue;
      let entityId: string;
      try {
        entityId = fromUtf8(fromBase64url(name.slice(0, -SUFFIX.length)));
      } catch {
        continue; // not one of ours
      }
      if (keyFileName(entityId) !== name) continue;
      const record = await this.#read(join(this.dir, name));
      if (record) records.push(record);
    }
    return records.sort((a, b) => a.entityId.localeCompare(b.entityId));
  }
}

/** The folder the CLI uses: --keystore, else CPNS_KEYSTORE, else ./.cpns-device. */
export function keystoreDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env) {
  return resolve(flag || env.CPNS_KEYSTORE || DEFAULT_KEYSTORE_DIR);
}
