/** What the parser and the help know at start; the work (commands/delete.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const deleteCommand: Command = {
  name: 'delete',
  operands: Infinity,
  usage: 'delete <ref>... [--keep-file F]... [--keep-sql Q] [--allow-empty-keep] [--dry-run]',
  summary: 'delete objects by ref (never a protected one), with their variants',
  help:
    'Each ref is looked up, then deleted with its cached variants, unless it is protected: a line\n' +
    'of a --keep-file F (repeatable) or a value of the first column of --keep-sql QUERY (run on\n' +
    'DATABASE_URL), as for prune (a keep list that names no object stops it, unless\n' +
    '--allow-empty-keep). --dry-run says what would go and deletes nothing. Exit 1 if a\n' +
    'ref was protected or not found (the others are still deleted).',
  options: {
    'keep-file': { type: 'string', multiple: true },
    'allow-empty-keep': { type: 'boolean' },
    'keep-sql': { type: 'string' },
    'dry-run': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).deleteCommand(cli)
}
