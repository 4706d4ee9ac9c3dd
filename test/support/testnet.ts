/**
 * A local HyperDHT testnet on loopback (`@hyperswarm/testnet`), so network
 * tests never reach the public DHT. Bind everything to 127.0.0.1: with the
 * default bind, connections here timed out (see notes/hyperswarm.md).
 */
export interface Testnet {
  bootstrap: { host: string; port: number }[];
  destroy(): Promise<void>;
}

const create = require('@hyperswarm/testnet') as (size: number, opts: { host: string }) => Promise<Testnet>;

/** A fresh testnet of `size` DHT nodes on 127.0.0.1. */
export function createTestnet(size = 3): Promise<Testnet> {
  return create(size, { host: '127.0.0.1' });
}
