import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { KyselyRunStore } from '../../src/store/run_store.js';
import { runStoreContract } from './run_store_contract.js';

runStoreContract('SQLite file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-store-'));
  const db = await openDatabase(path.join(dir, 'ci.sqlite'));
  await migrateToLatest(db.db);
  return { store: new KyselyRunStore(db.db), close: () => db.close() };
});

runStoreContract('SQLite file, log stored with prepared statements (as the server does)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-store-'));
  const db = await openDatabase(path.join(dir, 'ci.sqlite'), { backgroundCheckpoints: true });
  await migrateToLatest(db.db);
  return { store: new KyselyRunStore(db.db, { sqlite: db.sqlite }), close: () => db.close() };
});
