/**
 * Issue #9 item 7: the default strength estimator of the password policy
 * (password-policy.ts), zxcvbn-ts with its common dictionaries and the English
 * ones and messages. The dictionaries are about 1.6 MB of source: the server
 * loads this module only when no estimator is configured, so a small build
 * (a Worker, whose bundle must stay small) can pass a lighter one.
 *
 * Implements: PASSWORD-POLICY
 */
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as english from "@zxcvbn-ts/language-en";
import type { StrengthEstimator } from "./password-policy.ts";

let factory: ZxcvbnFactory | undefined;

export const zxcvbnEstimator: StrengthEstimator = (password, userInputs) => {
  factory ??= new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
    // Bounds on the work per check (the library's defaults, 256 and 100, let one 1024-character
    // password take seconds): only the first 64 characters are estimated, which can only
    // understate a longer password, and l33t substitutions are capped.
    maxLength: 64,
    l33tMaxSubstitutions: 10,
  });
  const result = factory.check(password, userInputs);
  const feedback = [result.feedback.warning, ...result.feedback.suggestions].filter(
    (line): line is string => typeof line === "string" && line.length > 0,
  );
  return { score: result.score, feedback };
};
