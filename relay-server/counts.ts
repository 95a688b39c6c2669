// Counting maps: how many of something each key (an IP, a PeerId) holds now.

/** Adds `delta` to `key`'s count, forgetting keys that reach 0 (the maps hold live counts only) */
export function addCount (counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta
  if (n <= 0) counts.delete(key)
  else counts.set(key, n)
}
