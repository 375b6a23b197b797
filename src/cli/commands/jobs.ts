/** The long jobs over many items: import and migrate. */
import { createHash } from 'node:crypto'
import { realpath } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { FilesystemDriver } from '../../../drivers/fs/index.js'
import { IpfsDriver } from '../../../drivers/ipfs/index.js'
import { S3Driver } from '../../../drivers/s3/index.js'
import type { ImageStorage } from '../../core/types.js'
import { importTree, migrate as migrateJob } from '../jobs.js'
import { UsageError, type Command } from '../context.js'

export const importCommand: Command = {
  name: 'import',
  usage: 'import <dir> [--mapping F] [--follow-symlinks]',
  summary: 'store every file below <dir>; F (JSONL) maps source to hash and key; run again to resume',
  help: 'The mapping defaults to ./sai-images-import-<dir name>-<8 hex of its absolute path>.jsonl, so that\n' +
    'the same command run again in the same folder resumes, and two trees never share a mapping.',
  options: { mapping: { type: 'string' }, 'follow-symlinks': { type: 'boolean', default: false } },
  async run (cli) {
    const dir = cli.arg(0, 'dir')
    const mapping = cli.string('mapping') ?? defaultMapping(dir)
    const summary = await importTree(cli.storage(), dir, { mapping, concurrency: cli.concurrency(), progress: cli.progress, stop: cli.stopSignal(), followSymlinks: cli.flags['follow-symlinks'] === true })
    if (summary.symlinks.length > 0 && !cli.json) process.stderr.write(`skipped ${summary.symlinks.length} symbolic link(s) (--follow-symlinks follows them): ${summary.symlinks.slice(0, 5).join(', ')}${summary.symlinks.length > 5 ? ', …' : ''}\n`)
    return cli.report('import', summary)
  }
}

export const migrate: Command = {
  name: 'migrate',
  usage: 'migrate --from D --to D --mapping F [--dry-run] [--to-root DIR]',
  summary: 'copy every object to another driver and check it there; resumable',
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    'to-root': { type: 'string' },
    mapping: { type: 'string' },
    'dry-run': { type: 'boolean', default: false }
  },
  async run (cli) {
    const [fromName, toName, mapping] = [cli.string('from'), cli.string('to'), cli.string('mapping')]
    if (fromName === undefined || toName === undefined || mapping === undefined) throw new UsageError('migrate needs --from, --to and --mapping')
    const from = cli.storageFor(fromName, cli.string('root'))
    const to = cli.storageFor(toName, cli.string('to-root'))
    const same = await sameStore(from, to)
    if (same !== undefined) throw new UsageError(`the target is the source store (${same}): name another with --to-root, or another driver`)
    const dryRun = cli.flags['dry-run'] === true
    const summary = await migrateJob(from, to, { mapping, concurrency: cli.concurrency(), progress: cli.progress, stop: cli.stopSignal(), dryRun })
    if (dryRun) {
      cli.out(`dry run: ${summary.total - summary.skipped} objects (${summary.bytes} bytes) to copy, ${summary.skipped} already copied`, { dryRun: true, ...summary })
      return 0
    }
    return cli.report('migrate', summary)
  }
}

/** Where `a` and `b` are one store, what it is; undefined if they differ. */
async function sameStore (a: ImageStorage, b: ImageStorage): Promise<string | undefined> {
  if (a instanceof FilesystemDriver && b instanceof FilesystemDriver) {
    const [ra, rb] = await Promise.all([a.root, b.root].map(async root => await realpath(root).catch(() => root)))
    return ra === rb ? ra : undefined
  }
  if (a instanceof IpfsDriver && b instanceof IpfsDriver) return a.apiUrl === b.apiUrl ? a.apiUrl : undefined
  if (a instanceof S3Driver && b instanceof S3Driver) {
    const [pa, pb] = [a, b].map(s => `${s.endpoint}/${s.bucket}/${s.prefix}`)
    return pa === pb ? pa : undefined
  }
  return undefined
}

/** `./sai-images-import-original-1a2b3c4d.jsonl` for `/srv/dashboard/original`. */
export function defaultMapping (dir: string): string {
  const absolute = resolve(dir)
  const tag = createHash('sha256').update(absolute).digest('hex').slice(0, 8)
  return `sai-images-import-${basename(absolute).replace(/[^\w.-]/g, '_') || 'root'}-${tag}.jsonl`
}
