/** What the parser and the help know at start; the work (commands/jobs.ts) loads when the command runs. */
import type { Command } from '../context.js'
import { DURATION_UNITS } from '../units.js'

export const importCommand: Command = {
  name: 'import',
  operands: 1,
  operandsNote: 'run import once per folder: each has its own mapping',
  usage: 'import <dir> [--mapping F] [--exclude GLOB]... [--follow-symlinks] [--allow-non-image] [--min-age 2s]',
  summary: 'store every file below <dir>, resumably; F maps source to hash',
  help:
    'The mapping defaults to ./sai-images-import-<dir name>-<8 hex of its absolute path>.jsonl, so that\n' +
    'the same command run again in the same folder resumes, and two trees never share a mapping.\n' +
    'A rerun walks the whole tree and stores every file the mapping does not record: the files added\n' +
    'since, wherever they sort. --exclude leaves out names, paths or folders (*.txt, .DS_Store,\n' +
    'thumbs/**, thumbs/; repeatable). A file that is not an image is reported once and recorded\n' +
    'in F.not-images.jsonl (the mapping holds mappings only), not a failure: later runs pass over it.\n' +
    '--allow-non-image stores such files instead. A file that fails is reported, not recorded: the\n' +
    'next run tries it again. F belongs to the store it was first run into (its first line names it):\n' +
    'into another store it is refused (exit 6); give each store its own mapping.\n' +
    'A file is taken once it has rested --min-age (default 2s: no write, truncation or touch), so that a\n' +
    'frame still being written is not stored as its first part; a younger one is waited for.\n' +
    `--min-age 0s takes files as they are found.\nDurations: ${DURATION_UNITS}.`,
  options: {
    concurrency: { type: 'string' },
    mapping: { type: 'string' },
    'min-age': { type: 'string' },
    exclude: { type: 'string', multiple: true },
    'follow-symlinks': { type: 'boolean' },
    'allow-non-image': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).importCommand(cli)
}

export const migrate: Command = {
  name: 'migrate',
  usage: 'migrate --from D --to D --mapping F [--dry-run] [--to-root DIR]',
  summary: 'copy every object to another store and check it there; resumable',
  help:
    'A rerun (from cron, say) copies every object the mapping does not record: those stored since,\n' +
    'and those the target lost since (one listing of it). F belongs to its target: a run to another\n' +
    'bucket, prefix or root with it is refused (exit 6).\n' +
    'Each copy keeps its first and last store times where the target can hold them (fs: the last\n' +
    'store, as the mtime; s3: the first store, as metadata; ipfs: both, as its time markers; see\n' +
    'docs/cli.md). The memory driver is refused as a target: its copies would vanish when the\n' +
    'command exits.',
  options: {
    concurrency: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'to-root': { type: 'string' },
    mapping: { type: 'string' },
    'dry-run': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).migrate(cli)
}
