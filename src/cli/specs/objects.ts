/** What the parser and the help know at start; the work (commands/objects.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const store: Command = {
  name: 'store',
  operands: Infinity,
  usage: 'store <file|->... [--allow-non-image]',
  summary: 'store images (- reads standard input)',
  help:
    'Several files are stored one by one, each with its own line; the exit code is the worst of\n' +
    'theirs, so `store *.jpg && rm *.jpg` removes nothing that was not stored.',
  options: { 'allow-non-image': { type: 'boolean' } },
  run: async cli => await (await import('../commands/index.js')).store(cli)
}

export const exists: Command = {
  name: 'exists',
  operands: Infinity,
  usage: 'exists <ref>...',
  summary: 'exit 0 if every ref is stored, 1 if one is not',
  run: async cli => await (await import('../commands/index.js')).exists(cli)
}

export const stat: Command = {
  name: 'stat',
  operands: Infinity,
  usage: 'stat <ref>...',
  summary: 'size, type, times and place of objects',
  run: async cli => await (await import('../commands/index.js')).stat(cli)
}

export const list: Command = {
  name: 'list',
  usage: 'list [--prefix HEX] [--after SHA256] [--limit N] [--allow-empty]',
  summary: 'every object, streamed in SHA-256 order: hash, size, last store',
  help:
    '--prefix lists the objects whose SHA-256 starts with HEX; --after resumes after a SHA-256 (a\n' +
    'cursor: pass the last one printed). --json prints one JSON object per line (one per object).\n' +
    'A root that does not exist is an error (exit 1) unless --allow-empty, as for stats and verify.',
  options: {
    prefix: { type: 'string' },
    after: { type: 'string' },
    limit: { type: 'string' },
    'allow-empty': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).list(cli)
}
