/**
 * The numbered migrations, in order. Add a file NNN_name.ts and list it here;
 * never edit one that has shipped.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_init.js';
import * as m002 from './002_auth.js';
import * as m003 from './003_run_history_index.js';
import * as m004 from './004_log_chunks.js';

const MIGRATIONS: Record<string, Migration> = {
  '001_init': m001,
  '002_auth': m002,
  '003_run_history_index': m003,
  '004_log_chunks': m004,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
