/**
 * The CPNS story suite (story.ts) against two CPNS Server instances answering
 * in turn (one memory store, one in-process coordination, round robin on one
 * loopback port): every challenge of one instance is answered to the other,
 * every OTK step and every relayed request lands on the instance that did
 * not see the previous one, and the story still holds, attacks included.
 */
import { describe } from "vitest";
import { startRoundRobinPair } from "./cpns-targets.ts";
import { cpnsStorySuite } from "./story.ts";

describe("[FLEET-ATOMIC] two instances, one store, one coordination, requests in turn", () => {
  cpnsStorySuite("two in-process instances, round robin", startRoundRobinPair);
});
