/** What the parser and the help know at start; the work (commands/fetch.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const fetch: Command = {
  name: 'fetch',
  operands: Infinity,
  usage: 'fetch <ref>... [-o FILE|DIR] [--force]',
  summary: 'write the verified bytes to a file, a folder or standard output',
  help:
    'Without -o the bytes go to standard output, which must not be a terminal unless --force;\n' +
    'there, --json writes its answer to standard error (standard output holds only the bytes).\n' +
    'With -o FILE, the file is written beside its name and renamed once the bytes are verified.\n' +
    'With -o DIR (a folder that exists, or a name ending in /, made if missing), each object is\n' +
    'written there as <hash>.<ext> (jpg, png, webp...; bin for other bytes); several refs need a folder.',
  options: { output: { type: 'string', short: 'o' }, force: { type: 'boolean' } },
  writesBytesToStdout: flags => flags.output === undefined,
  run: async cli => await (await import('../commands/index.js')).fetch(cli)
}
