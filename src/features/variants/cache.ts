/**
 * The variant cache on disk: `{dir}/ab/cd/<source sha256>.<preset>.<preset id>.<variant sha256>.<ext>`,
 * sharded as the objects are, so a frame's first variant creates no folder of its own.
 * The variant's own digest in its name lets every read be checked: a damaged entry is removed and
 * made again, never served. An entry is written to a temp file and renamed into place (with fsync
 * of both when asked), so a crash leaves a whole entry or none, and of two processes that write
 * the same variant at once, one file stays: the same bytes under the same name.
 */
import { createHash, randomUUID } from 'node:crypto'
import { statSync } from 'node:fs'
import { rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Background } from '../../core/background.js'
import { readWhole } from '../../core/durable-files.js'
import { isMissing, isUnavailable, StorageUnavailableError } from '../../core/errors.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import { PrefixSharding } from '../../core/sharding.js'
import { addFinding, emptyReport, type FindingReason, type VerifyReport } from '../../core/verify-report.js'
import { FolderListings, listDir } from './listings.js'
import { beginEntry } from './pending.js'
import type { ResolvedPreset } from './presets.js'

/** Entry names remembered at most (about 1.5 MB). */
const MAX_KNOWN = 10_000
/** Sharded as the objects are: a frame's first variant creates no folder of its own. */
const SHARDING = new PrefixSharding()

export interface CacheEntry {
  path: string
  /** Relative to the cache's folder. */
  key: string
  sha256: string
}

/** An entry being made: its folder and temp file exist, ready for the bytes. */
export interface PendingEntry {
  commit: (bytes: Buffer) => Promise<CacheEntry>
  /** Removes the temp file (the variant could not be made). */
  abandon: () => Promise<void>
}

/** source sha256, preset name, preset id, variant sha256, extension */
const ENTRY = /^([0-9a-f]{64})\.([a-z0-9_-]+)\.([0-9a-f]{12})\.([0-9a-f]{64})\.([a-z]+)$/

export class VariantCache {
  /** Entry names already found, so that a hit costs no directory listing. */
  private readonly known = new Map<string, string>()
  /** The shard folders' names, for the lookups. */
  private readonly listings: FolderListings
  /** Closes nothing waits for; `settle` waits for them. */
  private readonly background: Background

  /** `logger` is told of a cleanup that failed (see docs/observability.md); silent without one. */
  constructor(
    readonly dir: string,
    private readonly fsync: boolean,
    private readonly logger?: Logger
  ) {
    this.background = new Background(logger)
    this.listings = new FolderListings(dir)
  }

  /** Waits for the closes that commits left running. */
  async settle(): Promise<void> {
    await this.background.settle()
  }

  private folderOf(sha256: string): string {
    return SHARDING.dirOf(sha256).slice(0, -1)
  }

  /** Whether an entry is there: a lookup, no read. */
  holds(sha256: string, preset: ResolvedPreset): boolean {
    return (
      (this.known.size > 0 && this.known.has(`${sha256}/${preset.name}.${preset.id}`)) ||
      this.find(sha256, preset) !== undefined
    )
  }

  /** The name of the cached entry, if there is one: a lookup, no read (then `read` it). */
  lookup(sha256: string, preset: ResolvedPreset): string | undefined {
    return this.known.get(`${sha256}/${preset.name}.${preset.id}`) ?? this.find(sha256, preset)
  }

  /**
   * The verified bytes of the cached variant, or undefined (none, or a damaged one, now removed).
   * `name`: what `lookup` found, if the caller asked already.
   */
  async read(
    sha256: string,
    preset: ResolvedPreset,
    name = this.lookup(sha256, preset)
  ): Promise<{ bytes: Buffer; entry: CacheEntry } | undefined> {
    const memo = `${sha256}/${preset.name}.${preset.id}`
    if (name === undefined) return undefined
    const key = `${this.folderOf(sha256)}/${name}`
    const path = join(this.dir, key)
    let bytes: Buffer
    try {
      bytes = await readWhole(path) // one round trip; readFile takes four
    } catch (err) {
      this.known.delete(memo)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const digest = ENTRY.exec(name)![4]!
    if (createHash('sha256').update(bytes).digest('hex') !== digest) {
      this.known.delete(memo)
      await this.removeOrLog(path, 'variants.damaged-remove-failed') // damaged: made again by the caller
      return undefined
    }
    this.remember(memo, name)
    return { bytes, entry: { path, key, sha256: digest } }
  }

  /**
   * Opens a temp file in the shard's folder, so that the variant's bytes, once made, take one
   * write and a rename: begun while sharp works, the folder and file cost no time.
   */
  async begin(sha256: string, preset: ResolvedPreset): Promise<PendingEntry> {
    const folder = join(this.dir, this.folderOf(sha256))
    const remove = async (path: string): Promise<boolean> => await this.removeOrLog(path, 'variants.temp-remove-failed')
    const temp = await beginEntry(folder, join(folder, `.${randomUUID()}.tmp`), {
      fsync: this.fsync,
      background: this.background,
      remove
    }).catch(this.unavailable)
    // what the name needs but the bytes, made while sharp works (the commit runs after a render: cold)
    const memo = `${sha256}/${preset.name}.${preset.id}`
    const shard = this.folderOf(sha256)
    const commit = async (bytes: Buffer): Promise<CacheEntry> => {
      const digest = createHash('sha256').update(bytes).digest('hex')
      const name = `${sha256}.${preset.name}.${preset.id}.${digest}.${preset.format}`
      await temp.commit(name, bytes).catch(this.unavailable)
      this.remember(memo, name)
      return { path: join(folder, name), key: `${shard}/${name}`, sha256: digest }
    }
    return { commit, abandon: temp.abandon }
  }

  /** A cache that cannot be written (EROFS, ENOSPC, EACCES) is a store that cannot be used, not a bug. */
  private readonly unavailable = (err: unknown): never => {
    throw isUnavailable(err) ? StorageUnavailableError.fromSystemError(err, this.dir, 'path') : err
  }

  /** Removes every variant of `sha256`; how many there were. */
  async remove(sha256: string): Promise<number> {
    const folder = join(this.dir, this.folderOf(sha256))
    const names = listDir(folder).filter(name => name.startsWith(`${sha256}.`) && ENTRY.test(name))
    await Promise.all(names.map(async name => await rm(join(folder, name), { force: true })))
    for (const memo of this.known.keys()) if (memo.startsWith(`${sha256}/`)) this.known.delete(memo)
    this.listings.forget(this.folderOf(sha256))
    return names.length
  }

  /** Every file of the cache, folder by folder: entries (name parsed) and anything else (temps, strays). */
  *files(): Generator<{ path: string; key: string; entry?: { source: string; preset: string; sha256: string } }> {
    for (const a of listDir(this.dir)) {
      for (const b of listDir(join(this.dir, a))) {
        for (const name of listDir(join(this.dir, a, b))) {
          const match = ENTRY.exec(name)
          const key = `${a}/${b}/${name}`
          yield {
            path: join(this.dir, key),
            key,
            entry: match === null ? undefined : { source: match[1]!, preset: match[2]!, sha256: match[4]! }
          }
        }
      }
    }
  }

  /**
   * Checks every file: a damaged entry (`corrupt`), a file that is no entry (`stray`), an entry
   * whose source `isStored` denies (`orphan`). `repair` removes them.
   */
  async verify(
    isStored: (source: string) => Promise<boolean>,
    options: { repair?: boolean; signal?: AbortSignal } = {}
  ): Promise<VerifyReport> {
    const report = emptyReport(options.repair === true)
    const sources = new Map<string, boolean>()
    for (const file of this.files()) {
      options.signal?.throwIfAborted()
      let reason: FindingReason | undefined
      if (file.entry === undefined) {
        // a temp a process is writing now (its rename would fail): stray once it has been left an hour
        if (changedWithin(file.path, 3_600_000)) continue
        reason = 'stray'
      } else {
        const bytes = await readWhole(file.path).catch((err: unknown) => {
          if (isMissing(err)) return undefined // removed since the folder was listed (a repair, a delete)
          throw err
        })
        if (bytes === undefined) continue
        report.checked++
        report.bytes += bytes.length
        if (createHash('sha256').update(bytes).digest('hex') !== file.entry.sha256) reason = 'corrupt'
        else {
          if (!sources.has(file.entry.source)) sources.set(file.entry.source, await isStored(file.entry.source))
          if (sources.get(file.entry.source) === false) reason = 'orphan'
        }
      }
      if (reason === undefined) continue
      const removed = options.repair === true && (await this.removeOrLog(file.path, 'variants.remove-failed'))
      addFinding(report, {
        path: file.path,
        key: file.key,
        reason,
        action: options.repair === true ? (removed ? 'removed' : 'left') : undefined
      })
    }
    return report
  }

  /** Removes a file nobody waits for (gone already is fine); a failure is logged, not thrown. */
  private async removeOrLog(path: string, event: string): Promise<boolean> {
    try {
      await unlink(path)
    } catch (err) {
      if (isMissing(err)) return true
      log(this.logger, 'warn', { event, path, ...failureFields(err) }, `${event}: ${(err as Error).message}`)
      return false
    }
    return true
  }

  /** A lookup in the shard's folder (a few dozen names): synchronous, microseconds, no round trip. */
  private find(sha256: string, preset: ResolvedPreset): string | undefined {
    const names = this.listings.names(this.folderOf(sha256))
    if (names.length === 0) return undefined // (most folders, in a first run over millions: no string made)
    const prefix = `${sha256}.${preset.name}.${preset.id}.`
    return names.find(name => name.startsWith(prefix) && ENTRY.test(name))
  }

  /**
   * Remembers an entry's name, the oldest forgotten past a bound (a pre-generation of millions must
   * not hold them all).
   */
  private remember(memo: string, name: string): void {
    this.known.delete(memo)
    this.known.set(memo, name)
    if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value!)
    this.listings.added(`${memo.slice(0, 2)}/${memo.slice(2, 4)}`, name)
  }
}

/** Whether the file at `path` was written less than `ms` ago (its mtime, as the store's temps are judged). */
function changedWithin(path: string, ms: number): boolean {
  const stats = statSync(path, { throwIfNoEntry: false })
  return stats !== undefined && Date.now() - stats.mtimeMs < ms
}
