// Which free address an instance tries first. Spreading instances over the pool
// by a hash of their id keeps a burst of launches from all racing for the first
// free address, and keeps the choice the same for every retry of one instance.

/** 32-bit FNV-1a: small, fast and stable across runtimes. */
export function fnv1a(text: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash;
}

/** The free addresses in the order `instanceId` should try them: sorted, then rotated by its hash. */
export function candidateOrder<T extends { allocationId: string }>(instanceId: string, free: T[]): T[] {
    const sorted = [...free].sort((a, b) => (a.allocationId < b.allocationId ? -1 : a.allocationId > b.allocationId ? 1 : 0));
    if (sorted.length === 0) return sorted;
    const start = fnv1a(instanceId) % sorted.length;
    return [...sorted.slice(start), ...sorted.slice(0, start)];
}
