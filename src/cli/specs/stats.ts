/** What the parser and the help know at start; the work (commands/stats.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const stats: Command = {
  name: 'stats',
  usage: 'stats [--types] [--allow-empty]',
  summary: 'objects and bytes, by month of the last store; the quarantine',
  help:
    'Counts from the listing alone (no read per object): objects, bytes, and by month of the last\n' +
    "store (to choose a retention policy). --types also sniffs each object's type from its first bytes\n" +
    '(a read per object). A root that does not exist is an error unless --allow-empty.',
  options: { concurrency: { type: 'string' }, types: { type: 'boolean' }, 'allow-empty': { type: 'boolean' } },
  run: async cli => await (await import('../commands/index.js')).stats(cli)
}
