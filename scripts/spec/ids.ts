/**
 * Requirement ids in test titles. A title names ids in bracket groups at its very start:
 * `[DIGEST-REPLAY] ...`, `[DIGEST-REPLAY][DIGEST-AUTHINT] ...` or `[A, B] ...`. Only leading groups
 * count, so brackets later in a title (a regex, a table row's label) are never taken for ids. A
 * test's ids are the union over its describe chain and its own title.
 *
 * Implements: SPEC-TRACE
 */

/** `SEED-5.x.1-1`, `FFS-NO-TLS`, `DIGEST-REPLAY`: an upper-case letter, then letters, digits, `-`, `.`. */
export const ID_PATTERN = /^[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*$/;

const LEADING_GROUP = /^\s*\[([^\][]*)\]/;

/** The ids named by the leading bracket groups of one title. */
export function parseIds(title: string): string[] {
  const ids: string[] = [];
  let rest = title;
  for (let match = LEADING_GROUP.exec(rest); match; match = LEADING_GROUP.exec(rest)) {
    const tokens = (match[1] ?? "").split(/[\s,]+/).filter((token) => token !== "");
    if (tokens.length === 0 || !tokens.every((token) => ID_PATTERN.test(token))) break;
    ids.push(...tokens);
    rest = rest.slice(match[0].length);
  }
  return ids;
}

/** The ids of a test: those of every describe title above it and of its own title, deduplicated. */
export function idsOfTest(ancestorTitles: readonly string[], title: string): string[] {
  return [...new Set([...ancestorTitles, title].flatMap(parseIds))];
}
