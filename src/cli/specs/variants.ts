/** What the parser and the help know at start; the work (commands/variants.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const variants: Command = {
  name: 'variants',
  operands: Infinity,
  usage: 'variants <preset...> [--dry-run]',
  summary: 'make the variants (thumb, webp) of every object ahead; resumable',
  help:
    'Variants already cached are skipped at the cost of one lookup, so a run stopped with Ctrl-C\n' +
    'resumes where it stopped. The cache is {root}/.variants on the filesystem driver, else\n' +
    'SAI_IMAGE_VARIANTS_PATH. Images that cannot be made into a variant are listed (exit 1).',
  options: { concurrency: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  run: async cli => await (await import('../commands/index.js')).variants(cli)
}
