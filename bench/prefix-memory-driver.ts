/**
 * The story bench's storage (issue #12, Speed): unstorage's memory driver,
 * except that a prefix listing reads only the keys under that prefix.
 * unstorage's own memory driver hands every key in the store to every
 * `getKeys(base)` and lets unstorage normalise and filter each one: 2.9 ms per
 * inbox listing at 4,000 keys on the development machine, a cost that grows
 * with every run of the bench and that no deployed store has (fs lists one
 * folder, Redis and Deno KV scan by prefix, the Worker's shards by range).
 * Values are kept as given, as the memory driver keeps them.
 *
 * Implements: DIGEST-SPEED-STORY
 */
import { defineDriver } from "unstorage";

export const prefixMemoryDriver = defineDriver(() => {
  const data = new Map<string, unknown>();
  return {
    name: "prefix-memory",
    hasItem: (key: string) => data.has(key),
    getItem: (key: string) => data.get(key) ?? null,
    getItemRaw: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: unknown) => {
      data.set(key, value);
    },
    setItemRaw: (key: string, value: unknown) => {
      data.set(key, value);
    },
    removeItem: (key: string) => {
      data.delete(key);
    },
    // unstorage hands the driver the normalised base ("otk-peer:alice:"), or "" for all keys.
    getKeys: (base?: string) =>
      base ? [...data.keys()].filter((key) => key.startsWith(base)) : [...data.keys()],
    clear: () => {
      data.clear();
    },
    dispose: () => {
      data.clear();
    },
  };
});
