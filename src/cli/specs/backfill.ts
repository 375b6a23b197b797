/** What the parser and the help know at start; the work (commands/backfill.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const backfillHashes: Command = {
  name: 'backfill-hashes',
  usage: 'backfill-hashes --mapping F [--migrate] [--table T] [--id-column C] [--batch N] [--dry-run]',
  summary: 'fill execution_images.image_hash from an import mapping',
  help:
    "F is the mapping that `sai-images import` wrote for the dashboard's tree\n" +
    'original/{floor(id/1000)}/{id}.jpg: each line gives the execution id ({id}.jpg) and the SHA-256.\n' +
    'Rows that hold the hash already are left as they are, so a rerun changes nothing; rows that hold\n' +
    'another hash are reported, never overwritten. --migrate first adds the column (char(64), CHECK\n' +
    '64 lower-case hex, indexed) if it is missing. Exit 1 if any row held another hash.',
  options: {
    mapping: { type: 'string' },
    migrate: { type: 'boolean' },
    table: { type: 'string' },
    'id-column': { type: 'string' },
    batch: { type: 'string' },
    'dry-run': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).backfillHashes(cli)
}
