/**
 * The CPNS story suite (story.ts) against the embedded default: a real
 * `tsx src/runtime/node.ts` process with the fs store on a temporary data
 * folder, plain HTTP on loopback (CPNS_PLAIN_HTTP=1). The suite runs twice
 * against the same process: the second run meets everything the first left
 * behind (users, entities, OTKs, spent nonces, failure budgets), as a run
 * against a long-lived deployed server would.
 */
import { describe } from "vitest";
import { sharedTarget, startCpnsNode } from "./cpns-targets.ts";
import { cpnsStorySuite } from "./story.ts";

const node = sharedTarget(startCpnsNode, 2);

cpnsStorySuite("Node (tsx src/runtime/node.ts, fs store)", node);

describe("[FLEET-CONF-RERUN] the same suite again, against the same long-lived process", () => {
  cpnsStorySuite("Node, second run", node);
});
