/**
 * The in-process coordination (the embedded default) against the port's
 * contract (test/coordination-contract.ts), and the server actually using the
 * coordination it is given: two app instances on one store and one
 * coordination behave as one server (a replay on the other instance, a
 * shared failure budget, one owner for a contested Entity ID).
 */
import { memoryCoordination } from "../../src/store/coordination.ts";
import { coordinationContract } from "../coordination-contract.ts";
import { twoInstanceScenarios } from "../fleet-scenarios.ts";

coordinationContract("in process", async () => {
  const shared = memoryCoordination();
  return { a: shared, b: shared, close: async () => {} };
});

twoInstanceScenarios("two apps in one process, one memory store, one coordination", async () => {
  const { createStorage } = await import("unstorage");
  const { default: memoryDriver } = await import("unstorage/drivers/memory");
  const { createServerApp } = await import("../../src/server/app.ts");
  const storage = createStorage({ driver: memoryDriver() });
  const coordination = memoryCoordination();
  const config = {
    realm: "cpns-fleet",
    storage,
    masterKey: new Uint8Array(32).fill(7),
    adminToken: "fleet-admin-token-0123456789abcdef",
    digestSecret: "fleet-digest-secret-0123456789abcdef",
    adminTransportKey: new Uint8Array(32).fill(9),
    coordination,
  };
  const one = createServerApp(config);
  const two = createServerApp(config);
  return {
    adminToken: config.adminToken,
    instances: [
      { base: "http://one.test", fetch: (request: Request) => one.fetch(request) },
      { base: "http://two.test", fetch: (request: Request) => two.fetch(request) },
    ],
    close: async () => {},
  };
});
