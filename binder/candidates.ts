// The order in which an instance tries the free addresses. Each instance ranks
// every address by a hash of (instance, address): a burst of launches spreads
// over the pool instead of racing for the first free address, an instance that
// loses one address moves to an independent next choice rather than to the
// neighbour its rivals also want, and every retry of one instance agrees.

/** 32-bit FNV-1a: small, fast and stable across runtimes. */
export function fnv1a(text: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash;
}

/** The free addresses in the order `instanceId` should try them (rendezvous hashing). */
export function candidateOrder<T extends { allocationId: string }>(instanceId: string, free: T[]): T[] {
    const rank = (address: T) => fnv1a(`${instanceId}/${address.allocationId}`);
    return free
        .map(address => ({ address, rank: rank(address) }))
        .sort((a, b) => a.rank - b.rank || (a.address.allocationId < b.address.allocationId ? -1 : 1))
        .map(({ address }) => address);
}
