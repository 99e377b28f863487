/**
 * The CPNS story suite (story.ts) against a server that is already running
 * somewhere, e.g. a deployed Worker or a fleet behind a load balancer:
 *
 *   CPNS_CONFORMANCE_URL=https://cpns.example.workers.dev \
 *   CPNS_CONFORMANCE_ADMIN_TOKEN=... \
 *   npx vitest run test/conformance/cpns-remote.test.ts
 *
 * CPNS_CONFORMANCE_FREE_FAILURES: the target's failure budget per (identity,
 * address) pair when it is not the default 10. Without CPNS_CONFORMANCE_URL
 * the suite is skipped (nothing to aim at). The suite leaves fresh users and
 * entities behind (random ids), never touches anything else.
 */
import { describe } from "vitest";
import { externalTarget } from "./cpns-targets.ts";
import { cpnsStorySuite } from "./story.ts";

const start = externalTarget();
const freeFailures = Number(process.env.CPNS_CONFORMANCE_FREE_FAILURES ?? 10);

describe.skipIf(start === undefined)("CPNS_CONFORMANCE_URL", () => {
  cpnsStorySuite(
    process.env.CPNS_CONFORMANCE_URL ?? "(unset)",
    start ?? (() => Promise.reject(new Error("CPNS_CONFORMANCE_URL is not set"))),
    { freeFailures },
  );
});
