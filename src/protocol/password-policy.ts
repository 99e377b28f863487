/**
 * Issue #9 item 7: the password policy of CPNS Users, one module for the server
 * (which enforces it: any admin client can call the API) and the CLI (which
 * checks first, so the user hears about a weak password without a round trip).
 *
 * A captured enrollment without TLS lets an attacker guess the password offline
 * against a fast hash (HA1 is one MD5/SHA-256), so the policy asks for length
 * and for a strength estimate from a well-kept library (zxcvbn-ts, loaded from
 * password-strength.ts). This file holds only the rules and the types, so a
 * small build (a Worker) can pass a lighter strength estimator and never load
 * the dictionaries.
 *
 * Implements: PASSWORD-POLICY, PASSWORD-POLICY-CLI
 */

/** NIST SP 800-63B asks for at least 8; offline guessing against a fast hash argues for more. */
export const PASSWORD_MIN_LENGTH = 12;
/** The create-user schema's cap (UTF-16 code units); a longer one is no password. */
export const PASSWORD_MAX_LENGTH = 1024;
/** zxcvbn's score 3: "safely unguessable", more than 10^8 guesses estimated. */
export const PASSWORD_MIN_SCORE = 3;

/** What a strength estimator says: a score 0-4 (zxcvbn's scale) and advice to show. */
export interface StrengthEstimate {
  score: number;
  /** Human-readable advice, never containing the password. */
  feedback: string[];
}

/** Estimates strength given words the password must not lean on (User ID, realm). */
export type StrengthEstimator = (password: string, userInputs: string[]) => StrengthEstimate;

export type PasswordVerdict = { ok: true } | { ok: false; reason: string };

/**
 * The policy: length first (cheap, and nothing else needs the dictionaries),
 * then the estimator with the User ID and realm as user inputs, so "alice2024"
 * for alice scores as low as it deserves.
 */
export function checkPassword(
  password: string,
  context: { userId: string; realm: string },
  estimate: StrengthEstimator,
): PasswordVerdict {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return {
      ok: false,
      reason: `the password must have at least ${PASSWORD_MIN_LENGTH} characters`,
    };
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    return {
      ok: false,
      reason: `the password must have at most ${PASSWORD_MAX_LENGTH} characters`,
    };
  }
  const { score, feedback } = estimate(password, [context.userId, context.realm]);
  if (score < PASSWORD_MIN_SCORE) {
    const advice = feedback.filter((line) => line && !line.includes(password));
    return {
      ok: false,
      reason: ["the password is too easy to guess", ...advice].join(". ").replace(/\.\./g, "."),
    };
  }
  return { ok: true };
}
