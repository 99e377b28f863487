/**
 * What the Worker bundle gets instead of zxcvbn-ts (wrangler.toml [alias]):
 * the CPNS Server's Worker always passes its own estimator
 * (worker-password.ts), so src/protocol/password-strength.ts is never loaded
 * there; if it ever were, it fails loudly instead of judging passwords with
 * empty dictionaries.
 *
 * Implements: FLEET-WORKERS-PASSWORD
 */
export const dictionary = {};
export const adjacencyGraphs = {};
export const translations = {};
export class ZxcvbnFactory {
  constructor() {
    throw new Error("zxcvbn-ts is not in the Worker bundle: pass passwordStrength");
  }
}
