/** One object at a time, or several: store, exists, stat; and the listing. (fetch and delete: their own files.) */
import { quarantinedHint } from '../../core/quarantine.js'
import { parseImageRef } from '../../core/ref.js'
import type { ImageStat, ImageStorage, QuarantineEntry, StorageResult } from '../../core/types.js'
import { existsSync } from 'node:fs'
import { missingRootLine, storeLine, UsageError, wholeNumber, type Context } from '../context.js'
import { eachOperand, reportOutcomes } from '../operands.js'
import { quarantinedUnder } from '../refs.js'
import { copyBeforeExit } from './replication.js'

export async function store(cli: Context): Promise<number> {
  const files = cli.operands('file|-')
  if (files.length > 1 && files.includes('-'))
    throw new UsageError('- (standard input) is stored alone, not beside files')
  const storage = await cli.storageToWrite()
  const put = async (file: string): Promise<StorageResult> =>
    await storage.store(file === '-' ? process.stdin : { path: file })
  const line = (r: StorageResult): string =>
    `${r.hash} ${r.key} ${r.size} ${r.mimeType}${r.isDuplicate ? ' (duplicate)' : ''}`
  if (files.length === 1) {
    const result = await put(files[0]!)
    cli.out(`${line(result)}\n${result.path}`, { ...result, store: storage.location })
    await copyBeforeExit(cli, storage)
    return 0
  }
  const outcomes = await eachOperand(files, put)
  const code = reportOutcomes(cli, storage, outcomes, {
    verb: 'stored',
    human: (r, file) => `${file}: ${line(r)}`,
    json: (r, file) => ({ file, ...r })
  })
  await copyBeforeExit(cli, storage)
  return code
}

export async function exists(cli: Context): Promise<number> {
  const refs = cli.operands('ref')
  const storage = await cli.storage()
  if (refs.length === 1) {
    const exists = await storage.exists(refs[0]!)
    // not stored, but a repair took it out: say where it is and how to put it back, as fetch and stat do
    const held = exists ? undefined : await quarantined(storage, refs[0]!)
    // a cron job in the wrong folder: "false" about a frame stored elsewhere, so say where it looked
    const noRoot = !exists && storage.root !== undefined && !existsSync(storage.root)
    cli.out(`${exists}${held === undefined ? '' : ` (${quarantinedHint(held)})`}`, {
      ref: refs[0],
      exists,
      ...(held === undefined ? {} : { quarantined: held.id, hint: quarantinedHint(held) }),
      ...(noRoot ? { rootExists: false } : {}),
      store: storage.location
    })
    if (noRoot) cli.note(`the root does not exist (a typo? an unmounted array?); ${storeLine(storage)}`)
    return exists ? 0 : 1
  }
  const outcomes = await eachOperand(refs, async ref => await storage.exists(ref))
  return reportOutcomes(cli, storage, outcomes, {
    verb: 'checked',
    human: (exists, ref) => `${ref} ${exists}`,
    json: (exists, ref) => ({ ref, exists }),
    exit: exists => (exists ? 0 : 1)
  })
}

export async function stat(cli: Context): Promise<number> {
  const refs = cli.operands('ref')
  const storage = await cli.storage()
  if (refs.length === 1) {
    const stat = await storage.stat(refs[0]!)
    cli.out(statRows(stat), { ...stat, store: storage.location })
    return 0
  }
  const outcomes = await eachOperand(refs, async ref => await storage.stat(ref))
  return reportOutcomes(cli, storage, outcomes, {
    verb: 'found',
    human: stat => statRows(stat) + '\n',
    json: stat => stat
  })
}

/** One aligned column of values; what the driver does not know (IPFS: storedAt) is left out. */
function statRows(stat: ImageStat): string {
  const rows = Object.entries(stat)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : String(v)] as const)
  const width = Math.max(...rows.map(([k]) => k.length)) + 1
  return rows.map(([k, v]) => `${k.padEnd(width)} ${v}`).join('\n')
}

export async function list(cli: Context): Promise<number> {
  const prefix = cli.string('prefix')?.toLowerCase()
  const after = cli.string('after')?.toLowerCase()
  if (prefix !== undefined && !/^[0-9a-f]{1,64}$/.test(prefix)) throw new UsageError('--prefix takes hex digits')
  if (after !== undefined && !/^[0-9a-f]{64}$/.test(after)) throw new UsageError('--after takes a SHA-256 hex')
  const limit = cli.string('limit') === undefined ? Infinity : wholeNumber(cli.string('limit')!)
  if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 1))
    throw new UsageError('--limit takes a whole number above 0')
  const storage = await cli.storage()
  // a root that is not there (a typo, an unmounted array) is no empty store, unless expected; one
  // the driver may not create is unavailable (exit 5), as the listing itself says
  const missingRoot = (): boolean =>
    storage.root !== undefined && !existsSync(storage.root) && cli.flags['allow-empty'] !== true
  let count = 0
  for await (const entry of storage.list({ prefix, after, signal: cli.stopSignal() })) {
    const line = cli.json
      ? JSON.stringify({
          hash: entry.hash,
          sha256: entry.sha256,
          key: entry.key,
          size: entry.size,
          lastStoredAt: entry.lastStoredAt?.toISOString()
        })
      : `${entry.sha256 ?? entry.hash} ${entry.size ?? '?'} ${entry.lastStoredAt?.toISOString() ?? '?'}`
    if (!process.stdout.write(line + '\n')) await new Promise(resolve => process.stdout.once('drain', resolve))
    if (++count >= limit) break
  }
  if (count === 0 && missingRoot()) {
    cli.out(`list: nothing listed: ${missingRootLine(cli)}\n${storeLine(storage)}`, {
      listed: 0,
      rootExists: false,
      store: storage.location
    })
    return 1
  }
  if (!cli.json) cli.note(`${count} listed; ${storeLine(storage)}`)
  return 0
}

/** The newest quarantine entry of `ref`, if a repair took it out of the store. */
async function quarantined(storage: ImageStorage, ref: string): Promise<QuarantineEntry | undefined> {
  let sha256: string | undefined
  try {
    sha256 = parseImageRef(ref).sha256
  } catch {} // a prefix of a hash (refs.ts) that names nothing stored: its entries, if one frame's
  const held = await quarantinedUnder(storage, sha256 ?? ref)
  return new Set(held.map(entry => entry.sha256)).size === 1 ? held.at(-1) : undefined
}
