/**
 * The device side of every entity command (seed 5.x.1 "kept by the device
 * side"): an entity whose EUKey this device's key store holds, with its
 * EntityAgent towards the CPNS Server (--server / CPNS_SERVER, else the server
 * it enrolled with). Shared by whoami, otk inbox, peer connect and gateway serve.
 *
 * Implements: CLI-FLOWS
 */
import { EntityAgent } from "../agent/agent.ts";
import type { DeviceRecord } from "../agent/keystore.ts";
import type { CliContext } from "./context.ts";
import { CliError, rememberSecret } from "./errors.ts";
import { serverTransport } from "./http.ts";
import { type CliKeyStore, explicitServer, type GlobalOptions, keystorePath } from "./settings.ts";

/** An entity of this device that holds an EUKey, with its agent towards the CPNS Server. */
export interface Device {
  entityId: string;
  record: DeviceRecord;
  store: CliKeyStore;
  /** The CPNS Server: --server / CPNS_SERVER, else the one the entity enrolled with. */
  base: string;
  agent: EntityAgent;
}

/** Opens this device's record of `entityId`; without an EUKey there is nothing to authenticate with. */
export async function openDevice(
  ctx: CliContext,
  options: GlobalOptions,
  entityId: string,
): Promise<Device> {
  const store = ctx.files.openKeyStore(keystorePath(options, ctx));
  const record = await store.get(entityId);
  if (!record?.eukey) {
    const why = record?.userId
      ? "its key was refused by the server earlier (rotated elsewhere or revoked)"
      : "it was never enrolled here";
    throw new CliError(
      "ERR_NOT_ENROLLED",
      `${entityId} holds no EUKey in ${store.dir}: ${why}; run cpns enroll --user <owner> --entity ${entityId}`,
    );
  }
  rememberSecret(record.eukey);
  const base = explicitServer(options, ctx.env) ?? record.serverUrl;
  const agent = new EntityAgent({
    serverUrl: base,
    store,
    fetch: serverTransport(ctx, options, base),
  });
  return { entityId, record, store, base, agent };
}
