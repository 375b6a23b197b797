/** What the parser and the help know at start; the work (commands/replication.ts) loads when the command runs. */
import type { Command } from '../context.js'
import { DURATION_UNITS } from '../units.js'

export const whereis: Command = {
  name: 'whereis',
  operands: 1,
  usage: 'whereis <ref>',
  summary: 'each copy of an object: present or missing, and when verified',
  help:
    'A copy that a verify read back and found damaged is DAMAGED until it is copied again or read\n' +
    'back whole. Exit 1 if no copy is present and undamaged.',
  run: async cli => await (await import('../commands/index.js')).whereis(cli)
}

export const evict: Command = {
  name: 'evict',
  usage:
    'evict --older-than 30d [--min-copies N] [--keep-file F]... [--keep-file-lenient] [--allow-empty-keep] ' +
    '[--dry-run]',
  summary: 'free the primary of old frames the replicas verifiably hold',
  help:
    'A primary copy goes only once --min-copies (default 1) replica copies were read back and\n' +
    'hashed in this same run; never the last copy, never one a store renews meanwhile. The frame is\n' +
    'still served (from a replica). --dry-run counts from the listings alone. Exit 1 if some old\n' +
    'frame had too few good replica copies (they are kept and queued to be copied again).\n' +
    'A --keep-file that names no object stops it, unless --allow-empty-keep.\n' +
    `Durations: ${DURATION_UNITS}.`,
  options: {
    concurrency: { type: 'string' },
    'older-than': { type: 'string' },
    'min-copies': { type: 'string' },
    'keep-file': { type: 'string', multiple: true },
    'keep-file-lenient': { type: 'boolean' },
    'allow-empty-keep': { type: 'boolean' },
    'dry-run': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).evict(cli)
}
