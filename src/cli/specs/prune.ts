/** What the parser and the help know at start; the work (commands/prune.ts) loads when the command runs. */
import type { Command } from '../context.js'
import { DURATION_UNITS, SIZE_UNITS } from '../units.js'

export const prune: Command = {
  name: 'prune',
  usage:
    'prune [--older-than 90d] [--max-bytes 500G] [--keep-file F]... [--keep-file-lenient] [--keep-sql Q] ' +
    '[--allow-empty-keep] [--dry-run [--list F]]',
  summary: 'delete objects last stored long ago, or the oldest over a budget',
  help:
    'Age is the time of the last store: a duplicate store makes an object young again. With both\n' +
    'limits, objects older than --older-than go, then the oldest until at most --max-bytes remain.\n' +
    '--keep-file F: one ref per line, never deleted (repeatable): a SHA-256 (either case), a key such\n' +
    'as ab/cd/<sha256>.jpg (any shard depth) or a CID; blank lines and # comments are fine; any other\n' +
    'line stops the prune before it deletes anything (exit 2), unless --keep-file-lenient skips it.\n' +
    '--keep-sql QUERY: its first column holds refs, read as those lines are (a NULL or an id stops\n' +
    'the prune the same way), run on DATABASE_URL (npm install pg), e.g. the hashes of frames with\n' +
    'detections. A keep file or query that names no object at all (empty, a failed export, no row)\n' +
    'stops the prune too (exit 2), unless --allow-empty-keep. The variants of a deleted object go\n' +
    'with it. An object stored in the last minute always stays. --dry-run counts what would go;\n' +
    '--list F writes it to F, one "sha256 size last-stored limit" line each. A store that renews an\n' +
    'object while the prune runs keeps it; a prune killed midway leaves objects in {root}/.pruning\n' +
    'that `verify --repair` puts back.\n' +
    `Durations: ${DURATION_UNITS}.\nSizes: ${SIZE_UNITS}.`,
  options: {
    concurrency: { type: 'string' },
    'older-than': { type: 'string' },
    'max-bytes': { type: 'string' },
    'keep-file': { type: 'string', multiple: true },
    'keep-file-lenient': { type: 'boolean' },
    'keep-sql': { type: 'string' },
    'allow-empty-keep': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    list: { type: 'string' }
  },
  run: async cli => await (await import('../commands/index.js')).prune(cli)
}
