/**
 * Walking the tree, and the fsck: what a server operator runs after a power cut.
 */
import { mkdir, opendir, rename, stat, unlink } from 'node:fs/promises'
import type { Dirent } from 'node:fs'
import { basename, join } from 'node:path'
import { forEachConcurrent } from '../../src/core/concurrency.js'
import type { ShardingStrategy } from '../../src/core/sharding.js'
import type { AbortOptions } from '../../src/core/types.js'
import { hashFile, isMissing, openIfExists } from './files.js'
import { PRUNING_DIR, putBack } from './prune.js'

/** Where writes are staged: one place to sweep after a crash. */
export const TEMP_DIR = '.tmp'
/** Where `verify --repair` moves bad objects, so that nothing is deleted unseen. */
export const QUARANTINE_DIR = '.quarantine'
export { PRUNING_DIR }

export interface StoreFile {
  path: string
  /** `/`-separated, relative to the root. */
  key: string
  /** At the depth where objects belong. */
  leaf: boolean
}

/** Every file below the shard directories, streamed; the root's other entries are not ours. */
export async function * walkStore (root: string, sharding: ShardingStrategy, signal?: AbortSignal, level = 0, prefix = ''): AsyncGenerator<StoreFile> {
  const dir = join(root, prefix)
  let entries
  try {
    entries = await opendir(dir)
  } catch (err) {
    if (isMissing(err)) return
    throw err
  }
  for await (const entry of entries) {
    signal?.throwIfAborted()
    const key = prefix + entry.name
    if (entry.isDirectory() && level < sharding.depth && sharding.isShardDir(entry.name)) {
      yield * walkStore(root, sharding, signal, level + 1, key + '/')
    } else if (entry.isFile() && (level > 0 || sharding.depth === 0)) {
      yield { path: join(root, key), key, leaf: level === sharding.depth }
    }
  }
}

export interface VerifyOptions extends AbortOptions {
  /** Quarantine bad objects and remove stray temps. Default false: only report. */
  repair?: boolean
  /** Objects hashed at once. Default 4. */
  concurrency?: number
  /** A temp file younger than this may belong to a live writer and is left alone. Default 1 hour. */
  tempMinAgeMs?: number
  onProgress?: (progress: { checked: number, bytes: number }) => void
}

export interface Finding {
  path: string
  key: string
  /** `set-aside`: an object a prune moved to .pruning and did not finish with (a crash): `repair` puts it back. */
  reason: 'empty' | 'truncated' | 'corrupt' | 'misnamed' | 'stray-temp' | 'set-aside'
  /** Where `repair` moved it, or undefined if it was removed or left. */
  movedTo?: string
}

export interface VerifyReport {
  /** Objects re-hashed. */
  checked: number
  bytes: number
  problems: Finding[]
  repaired: boolean
  /** No problem left: nothing found, or everything found was repaired. */
  clean: boolean
  /** False when the root does not exist yet (and is the library's to create): nothing was ever stored. */
  rootExists?: boolean
}

export async function verifyStore (root: string, sharding: ShardingStrategy, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { repair = false, concurrency = 4, tempMinAgeMs = 60 * 60 * 1000, signal } = options
  const report: VerifyReport = { checked: 0, bytes: 0, problems: [], repaired: repair, clean: true }
  const now = Date.now()

  const found = async (finding: Finding): Promise<void> => {
    report.problems.push(finding)
    if (!repair) return
    if (finding.reason === 'stray-temp') {
      await unlink(finding.path).catch(err => { if (!isMissing(err)) throw err })
    } else if (finding.reason === 'set-aside') {
      finding.movedTo = join(root, sharding.encode(finding.key.split('/')[1]!.slice(0, 64)))
      await putBack(finding.path, finding.movedTo, true)
    } else {
      await mkdir(join(root, QUARANTINE_DIR), { recursive: true })
      finding.movedTo = join(root, QUARANTINE_DIR, `${basename(finding.path)}.${now}`)
      await rename(finding.path, finding.movedTo)
    }
  }
  const isStrayTemp = async (path: string): Promise<boolean> =>
    now - (await stat(path)).mtimeMs >= tempMinAgeMs

  await forEachConcurrent(walkStore(root, sharding, signal), concurrency, async file => {
    if (file.key.endsWith('.tmp')) {
      if (await isStrayTemp(file.path)) await found({ path: file.path, key: file.key, reason: 'stray-temp' })
      return
    }
    const sha256 = sharding.decode(file.key)
    if (sha256 === undefined) return await found({ path: file.path, key: file.key, reason: 'misnamed' })
    const reason = await checkObject(file.path, sha256, signal, report)
    if (reason !== undefined) await found({ path: file.path, key: file.key, reason })
    options.onProgress?.({ checked: report.checked, bytes: report.bytes })
  })

  for await (const entry of await opendirIfExists(join(root, TEMP_DIR))) {
    const path = join(root, TEMP_DIR, entry.name)
    if (entry.isFile() && await isStrayTemp(path)) await found({ path, key: `${TEMP_DIR}/${entry.name}`, reason: 'stray-temp' })
  }
  // a prune's set-aside objects; a live prune's (changed, by its rename, less than tempMinAgeMs ago) are its own
  for await (const entry of await opendirIfExists(join(root, PRUNING_DIR))) {
    const path = join(root, PRUNING_DIR, entry.name)
    if (entry.isFile() && /^[0-9a-f]{64}\./.test(entry.name) && now - (await stat(path)).ctimeMs >= tempMinAgeMs) {
      await found({ path, key: `${PRUNING_DIR}/${entry.name}`, reason: 'set-aside' })
    }
  }
  report.clean = repair || report.problems.length === 0
  return report
}

async function checkObject (path: string, sha256: string, signal: AbortSignal | undefined, report: VerifyReport): Promise<Finding['reason'] | undefined> {
  const handle = await openIfExists(path)
  if (handle === undefined) return undefined // removed while we walked
  try {
    const { size } = await handle.stat()
    const actual = await hashFile(handle, signal)
    report.checked++
    report.bytes += size
    if (actual === sha256) return undefined
    if (size === 0) return 'empty'
    const { buffer: tail } = await handle.read(Buffer.alloc(2), 0, 2, size - 2)
    const isJpeg = (await handle.read(Buffer.alloc(2), 0, 2, 0)).buffer.readUInt16BE() === 0xffd8
    return isJpeg && tail.readUInt16BE() !== 0xffd9 ? 'truncated' : 'corrupt'
  } finally {
    await handle.close()
  }
}

async function opendirIfExists (dir: string): Promise<AsyncIterable<Dirent>> {
  try {
    return await opendir(dir)
  } catch (err) {
    if (isMissing(err)) return (async function * () {})()
    throw err
  }
}
