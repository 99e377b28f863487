/**
 * The Worker's password strength estimator (issue #11 with issue #9 item 7):
 * zxcvbn-ts's dictionaries are about 850 KB gzipped, far over the Worker's
 * 150 KB budget, so the Worker passes this estimator instead
 * (CpnsServerConfig.passwordStrength) and its bundle never holds them. The
 * policy around it is the same (password-policy.ts: at least 12 characters,
 * score 3 of 4 required); what is weaker is the estimate: it knows a short
 * list of the most common passwords and keyboard/number runs, strips the User
 * ID and the realm, and counts what is left by its length and character
 * classes, where zxcvbn knows ~100,000 words, names and patterns. A password
 * built from dictionary words it does not know ("sunshinemonkeydragon") passes
 * here and scores lower under zxcvbn.
 *
 * Implements: FLEET-WORKERS-PASSWORD, PASSWORD-POLICY
 */
import type { StrengthEstimate, StrengthEstimator } from "../protocol/password-policy.ts";

/** The most common passwords and their stems (lower case); a password made of these is guessed first. */
const COMMON = [
  "password",
  "passw0rd",
  "p@ssword",
  "123456",
  "1234567890",
  "qwerty",
  "qwertyuiop",
  "asdfgh",
  "zxcvbn",
  "abc123",
  "111111",
  "000000",
  "iloveyou",
  "admin",
  "welcome",
  "letmein",
  "monkey",
  "dragon",
  "football",
  "baseball",
  "master",
  "sunshine",
  "princess",
  "shadow",
  "superman",
  "trustno1",
  "login",
  "starwars",
  "hello",
  "freedom",
  "whatever",
  "qazwsx",
  "michael",
  "charlie",
  "secret",
  "changeme",
  "default",
  "cpns",
  "654321",
  "987654321",
  "1q2w3e4r",
];
const RUNS = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm"];

/** Removes every case-insensitive occurrence of each word (longest first). */
function strip(text: string, words: readonly string[]): string {
  let out = text;
  for (const word of [...words].filter((w) => w.length >= 3).sort((a, b) => b.length - a.length)) {
    out = out.split(new RegExp(word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi")).join("");
  }
  return out;
}

/** Drops runs of 3+ consecutive characters of a keyboard row or sequence, and repeats. */
function dropPatterns(text: string): string {
  let out = text.replace(/(.)\1{2,}/gu, "$1");
  for (const run of RUNS) {
    for (let length = run.length; length >= 3; length--) {
      for (let start = 0; start + length <= run.length; start++) {
        const piece = run.slice(start, start + length);
        const reversed = [...piece].reverse().join("");
        out = strip(out, [piece, reversed]);
      }
    }
  }
  return out;
}

export const lightEstimator: StrengthEstimator = (password, userInputs): StrengthEstimate => {
  const rest = dropPatterns(strip(strip(password, userInputs), COMMON));
  const chars = [...rest];
  let pool = 0;
  if (/[a-z]/.test(rest)) pool += 26;
  if (/[A-Z]/.test(rest)) pool += 26;
  if (/[0-9]/.test(rest)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(rest)) pool += 33;
  const bits = chars.length * Math.log2(Math.max(pool, 1));
  const score = bits >= 80 ? 4 : bits >= 56 ? 3 : bits >= 40 ? 2 : bits >= 24 ? 1 : 0;
  const feedback: string[] = [];
  if (score < 3) {
    if (rest.length < password.length / 2) {
      feedback.push("Avoid common passwords, keyboard runs, repeats and your user name.");
    }
    feedback.push("Add more words or characters; a long passphrase is easiest to remember.");
  }
  return { score, feedback };
};
