/**
 * A ready-made lookup for a fixed table of users (demos, tests, small
 * deployments). It answers userhash requests (RFC 7616 §3.4.4) by hashing every
 * known name, which is fine for a handful of users; a real store indexes the
 * userhash instead.
 *
 * Implements: DIGEST-USERHASH
 */
import { ALGORITHMS } from "./algorithms.ts";
import { computeUserhash } from "./compute.ts";
import type { CredentialLookup } from "./server.ts";

export function staticCredentials(users: Readonly<Record<string, string>>): CredentialLookup {
  const table = new Map(Object.entries(users));
  return ({ username, userhash, realm, algorithm }) => {
    if (!userhash) {
      const password = table.get(username);
      return password === undefined ? undefined : { username, password };
    }
    const wanted = username.toLowerCase();
    for (const [name, password] of table) {
      if (computeUserhash(ALGORITHMS[algorithm], name, realm) === wanted) {
        return { username: name, password };
      }
    }
    return undefined;
  };
}
