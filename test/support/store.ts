// A Store on the test MongoDB-wire server (see test/setup/global-mongo.ts), in a database of its own.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { Store } from '../../src/store/store.ts';

export async function openTestStore(): Promise<Store> {
  const store = await Store.open(inject('mongoUri'), `vpnwatch_test_${randomBytes(4).toString('hex')}`);
  return store;
}

export async function dropTestStore(store: Store): Promise<void> {
  await store.connection.dropDatabase();
  await store.close();
}
