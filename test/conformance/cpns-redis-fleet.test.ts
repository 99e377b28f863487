/**
 * The CPNS story suite (story.ts) against a Node fleet (issue #11): two real
 * `tsx src/runtime/node.ts` processes sharing one real redis-server (records
 * and coordination), behind a round-robin balancer that sends each request
 * to the next process, so every step of the story crosses instances.
 */
import { startRedisFleet } from "../fleet/redis-helpers.ts";
import { roundRobinProxy } from "./cpns-targets.ts";
import { cpnsStorySuite } from "./story.ts";

cpnsStorySuite("Node x2 + Redis, round robin per request", async () => {
  const fleet = await startRedisFleet();
  const proxy = await roundRobinProxy(fleet.instances.map((instance) => instance.base));
  return {
    baseUrl: proxy.baseUrl,
    adminToken: fleet.adminToken,
    close: async () => {
      await proxy.close();
      await fleet.close();
    },
  };
});
