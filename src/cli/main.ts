/**
 * The `cpns` process (bin/cpns.mjs loads this through tsx): Node's OpenSSL
 * hashes for Digest, the program on process.argv, and the exit status. The
 * status is set, not forced, so buffered output is never cut short.
 */
import { installHashBackend } from "../crypto/hash.ts";
import { nodeHashes } from "../runtime/node-hashes.ts";
import { nodeContext } from "./context.ts";
import { run } from "./program.ts";

installHashBackend(nodeHashes);

process.exitCode = await run(process.argv.slice(2), nodeContext());
