/**
 * Issue #9 item 7: the default strength estimator of the password policy
 * (password-policy.ts), zxcvbn-ts with its common dictionaries and the English
 * ones and messages. The dictionaries are about 1.6 MB of source: the server
 * loads this module only when no estimator is configured, so a small build
 * (a Worker, whose bundle must stay small) can pass a lighter one.
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
  });
  const result = factory.check(password, userInputs);
  const feedback = [result.feedback.warning, ...result.feedback.suggestions].filter(
    (line): line is string => typeof line === "string" && line.length > 0,
  );
  return { score: result.score, feedback };
};
