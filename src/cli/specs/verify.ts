/** What the parser and the help know at start; the work (commands/verify.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const verify: Command = {
  name: 'verify',
  usage: 'verify [--repair [--force]] [--subset K/N] [--checkpoint F [--resume]] [--expect-file F]... [--expect-sql Q]',
  summary: 're-hash every object and cached variant; exit 0 only if clean',
  help:
    'With --repair: bad objects are quarantined ({root}/.quarantine, or {prefix}.quarantine/ on S3;\n' +
    "see `sai-images quarantine`), stray temps removed, a killed prune's objects put back, bad\n" +
    'variants removed. A repair that quarantined a frame is not clean: the frame is lost from the store.\n' +
    'An intact frame under a wrong name or folder (an upper-case name, another shard) is moved into\n' +
    'place.\n' +
    'With replicas (SAI_IMAGE_STORAGE_REPLICAS) a damaged frame is healed from a good copy instead, and\n' +
    'each replica is checked for a copy of every frame, evicted ones too (the full re-read is the\n' +
    'subset\'s): a frame with fewer good copies than wanted is a problem, one with none is "lost".\n' +
    'The storm guard: a repair that would quarantine, move or copy more than 100 objects, or more than\n' +
    'half the store, changes nothing and says the likely cause (a layout setting, an unmounted root, a\n' +
    'wrong bucket); --force repairs anyway.\n' +
    '--subset K/N checks one of N fixed parts of the store (by hash): --subset $((day % 30))/30 reads\n' +
    'every object once in 30 days. --checkpoint F records progress; --resume continues after it.\n' +
    'A root that does not exist is an error (a typo, an unmounted array) unless --allow-empty; so is\n' +
    'one that holds no store but other entries (a mistyped --root /srv: "is it the store?").\n' +
    'A folder or a link where a frame\'s file should be is a problem ("not-a-file"); --repair leaves it.\n' +
    '--expect-file F (repeatable) / --expect-sql QUERY (DATABASE_URL; its first column): the frames\n' +
    'another record says the store holds, one ref per line (a SHA-256, a key, a CID), as in keep files.\n' +
    'Each one the store does not hold is "lost" (exit 1): without replicas, the only way a frame\n' +
    'removed by hand or lost with a disk is reported. A line that names no object stops it (exit 2).',
  options: {
    concurrency: { type: 'string' },
    repair: { type: 'boolean' },
    subset: { type: 'string' },
    checkpoint: { type: 'string' },
    resume: { type: 'boolean' },
    'allow-empty': { type: 'boolean' },
    force: { type: 'boolean' },
    'expect-file': { type: 'string', multiple: true },
    'expect-sql': { type: 'string' }
  },
  run: async cli => await (await import('../commands/index.js')).verify(cli)
}
