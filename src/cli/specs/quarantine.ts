/** What the parser and the help know at start; the work (commands/quarantine.ts) loads when the command runs. */
import type { Command } from '../context.js'
import { DURATION_UNITS } from '../units.js'

export const REASONS = ['empty', 'truncated', 'corrupt', 'misnamed', 'misplaced', 'healed']

export const quarantine: Command = {
  name: 'quarantine',
  operands: Infinity,
  usage:
    'quarantine [list] | quarantine restore [--force] <id>... | quarantine purge <id>... | ' +
    'quarantine restore|purge <selection> [--dry-run]',
  summary: 'what repairs took out of the store: list, restore or purge it',
  help:
    'A repair never deletes a damaged object: it moves it to the quarantine ({root}/.quarantine, or\n' +
    '{prefix}.quarantine/ on S3). `restore` puts an object back under its name (if no object is there\n' +
    'now); bytes that do not match their name (empty, truncated, corrupt, healed entries) are refused\n' +
    '(exit 4) unless --force: evidence is never put back as a frame silently. A misnamed file goes\n' +
    'back under the name it had. `purge` deletes it for good. Ids are the names `list` prints; an id\n' +
    'that is not there, or whose name holds an object now, is refused (exit 1).\n' +
    'Instead of ids, a selection: --all, or entries of --reason R (repeatable:\n' +
    `${REASONS.join(', ')})\n` +
    'and/or quarantined --older-than D or --since D ago (all must hold).\n' +
    '--dry-run lists what restore or purge would do, and what it would refuse, changing nothing.\n' +
    `Durations: ${DURATION_UNITS}.`,
  options: {
    'older-than': { type: 'string' },
    since: { type: 'string' },
    reason: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).quarantine(cli)
}
