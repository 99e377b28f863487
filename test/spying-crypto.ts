/**
 * A WebCrypto provider that is the platform's own, with every SubtleCrypto call
 * reported first: the tests that check a component really uses the provider it
 * was given (issue #9 mutation tests of src/agent) watch key derivations through it.
 */

/** `onCall(name, args)` runs before each SubtleCrypto method; the call then proceeds unchanged. */
export function spyingCrypto(onCall: (name: string, args: unknown[]) => void): Crypto {
  const subtle = new Proxy(globalThis.crypto.subtle, {
    get(target, name) {
      const value = Reflect.get(target, name);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        onCall(String(name), args);
        return value.apply(target, args);
      };
    },
  });
  return {
    subtle,
    getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
    randomUUID: globalThis.crypto.randomUUID.bind(globalThis.crypto),
  } as Crypto;
}

/** True for the HKDF key import every channel key derivation starts with. */
export function isHkdfImport(name: string, args: unknown[]): boolean {
  return name === "importKey" && args[0] === "raw" && args[2] === "HKDF";
}
