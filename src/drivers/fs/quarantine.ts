/**
 * `{root}/.quarantine`: objects a repair took out of the store, kept until an operator restores or
 * purges them. Each is the file `<sha256>.<ms>.<reason>`: the hash its name claimed, when it was
 * taken out, and why, so that a fetch of a missing object can say that it sits here.
 */
import { createHash } from 'node:crypto'
import { createReadStream, lstatSync, readdirSync } from 'node:fs'
import { link, rename, rm, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { IntegrityError, InvalidInputError, isMissing } from '../../core/errors.js'
import { quarantineEntry, quarantineName } from '../../core/quarantine.js'
import { parseImageRef } from '../../core/ref.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { AbortOptions, Quarantine, QuarantineEntry, RestoreOptions } from '../../core/types.js'
import type { StoreRoot } from './store.js'
import { fsyncDir, type StoreDirs } from './write.js'

export class FilesystemQuarantine implements Quarantine {
  readonly dir: string
  private readonly root: string

  constructor(
    private readonly watched: StoreRoot,
    private readonly sharding: ShardingStrategy,
    private readonly dirs: StoreDirs,
    private readonly fsync: boolean
  ) {
    this.root = watched.path
    this.dir = join(this.root, SPECIAL_DIRS.quarantine)
  }

  async *list(options: AbortOptions = {}): AsyncGenerator<QuarantineEntry> {
    const entries = this.names()
      .map(name => this.entryOf(name))
      .filter(entry => entry !== undefined)
    entries.sort((a, b) => a.quarantinedAt.getTime() - b.quarantinedAt.getTime() || (a.id < b.id ? -1 : 1))
    for (const entry of entries) {
      options.signal?.throwIfAborted()
      yield entry
    }
  }

  /**
   * Moves the file at `path` (the object of `sha256`, or a misnamed file, whose `originalKey` its
   * entry keeps) here.
   */
  async take(path: string, sha256: string, reason: string, originalKey?: string): Promise<string> {
    this.watched.require() // never a `.quarantine` on a bare mount point
    // made with its name durable (dirs.make): a rename into a folder a power cut loses loses the object
    await this.dirs.make(this.dir, this.root)
    const target = join(this.dir, quarantineName(sha256, reason, Date.now(), originalKey))
    await rename(path, target)
    if (this.fsync) await Promise.all([fsyncDir(this.dir), fsyncDir(dirname(path))])
    return target
  }

  /**
   * `take` for an object a scan found damaged some time ago, unless its bytes match their name now (a store,
   * storage.py or a heal put a whole copy in place since the scan): undefined then. Hashed again once here, and put
   * back if they match (a copy put in place between the two hashes).
   */
  async takeDamaged(path: string, sha256: string, reason: string): Promise<string | undefined> {
    // hashed where it is first: a whole copy put in place since the scan (hours ago, on a large store) never leaves
    // its name, where a fetch would miss it for a moment, and a power cut could leave it only here
    if ((await sha256OfFile(path).catch(() => undefined)) === sha256) return undefined
    const target = await this.take(path, sha256, reason)
    if ((await sha256OfFile(target)) !== sha256) return target
    return (await this.restore(target.slice(this.dir.length + 1))) ? undefined : target
  }

  async add(ref: string, reason: string, options: AbortOptions = {}): Promise<QuarantineEntry | undefined> {
    options.signal?.throwIfAborted()
    const { sha256 } = parseImageRef(ref)
    if (!this.watched.check()) return undefined // a root not made yet holds nothing
    try {
      const path = await this.take(join(this.root, this.sharding.encode(sha256)), sha256, reason)
      return this.entryOf(path.slice(this.dir.length + 1))
    } catch (err) {
      if (isMissing(err)) return undefined // nothing there
      throw err
    }
  }

  /**
   * Puts an entry back: under its hash's name if its bytes match it (else `ERR_INTEGRITY`, unless
   * `force`: the next fetch would fail on them), a misnamed file under the name it had.
   */
  async restore(id: string, options: RestoreOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    const entry = this.entryOf(id)
    if (entry === undefined) return false
    if (entry.folder) throw folderEntry(entry)
    const target = join(this.root, entry.originalKey ?? this.sharding.encode(entry.sha256))
    if (entry.originalKey === undefined && options.force !== true) {
      const actual = await sha256OfFile(entry.path)
      if (actual !== entry.sha256)
        throw new IntegrityError(
          entry.sha256,
          actual,
          entry.path,
          'the quarantined bytes do not match their name, so a fetch would fail on them: ' +
            `\`sai-images quarantine restore --force ${id}\` puts them back anyway; ` +
            `\`quarantine purge ${id}\` deletes them`
        )
    }
    try {
      if (entry.originalKey !== undefined) {
        await this.dirs.make(dirname(target), this.root) // its names durable, as take's
        await link(entry.path, target)
      } else
        await this.dirs.inShardDir(target, async () => {
          await link(entry.path, target)
        })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false // an object is there: this copy stays
      throw err
    }
    if (this.fsync) await fsyncDir(dirname(target))
    await unlink(entry.path)
    return true
  }

  async purge(id: string, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    const entry = this.entryOf(id)
    if (entry === undefined) return false
    try {
      await (entry.folder ? rm(entry.path, { recursive: true }) : unlink(entry.path)) // (named: what it holds goes too)
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
    if (this.fsync) await fsyncDir(this.dir)
    return true
  }

  /** The entries of `sha256` (a lookup on a miss: the quarantine is small). */
  holding(sha256: string): QuarantineEntry[] {
    return this.names()
      .filter(name => name.startsWith(`${sha256}.`))
      .map(name => this.entryOf(name))
      .filter(entry => entry !== undefined)
  }

  /** How many objects and bytes it holds. */
  totals(): { objects: number; bytes: number } {
    let objects = 0
    let bytes = 0
    for (const name of this.names()) {
      const entry = this.entryOf(name)
      if (entry === undefined) continue
      objects++
      bytes += entry.size
    }
    return { objects, bytes }
  }

  private names(): string[] {
    try {
      return readdirSync(this.dir)
    } catch (err) {
      if (!isMissing(err)) throw err
      this.watched.check() // no quarantine yet, or no store at all (unmounted): only the first is empty
      return []
    }
  }

  private entryOf(id: string): QuarantineEntry | undefined {
    const path = join(this.dir, id)
    const stats = quarantineEntry(id, path, 0) === undefined ? undefined : lstatSync(path, { throwIfNoEntry: false })
    if (stats?.isDirectory() === true) return { ...quarantineEntry(id, path, bytesIn(path))!, folder: true }
    return stats === undefined ? undefined : quarantineEntry(id, path, stats.size)
  }
}

/** What the files under a folder hold, in bytes. */
function bytesIn(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .reduce((sum, entry) => sum + lstatSync(join(entry.parentPath, entry.name)).size, 0)
}

/** A folder in the quarantine (an older release's repair moved it here) is no frame's file: never restored. */
function folderEntry(entry: QuarantineEntry): InvalidInputError {
  return new InvalidInputError(
    `Cannot restore ${entry.id}: it is a folder (${entry.path}), not a frame's file: an older release's repair ` +
      "moved a folder that stood under the frame's name here, with what it holds. Move what you keep out of it by " +
      `hand; \`sai-images quarantine purge ${entry.id}\` deletes it with all it holds`
  )
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
