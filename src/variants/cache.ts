/**
 * The variant cache on disk: `{dir}/ab/cd/<source sha256>/<preset>.<preset id>.<variant sha256>.<ext>`.
 * The variant's own digest in its name lets every read be checked: a damaged entry is removed and
 * made again, never served. Entries are written as objects are (temp file, fsync, link without
 * overwriting, directory fsync), so a crash leaves a whole entry or none, and of two processes
 * that write the same variant at once, one file stays.
 */
import { createHash, randomUUID } from 'node:crypto'
import { link, mkdir, open, readdir, readFile, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { ResolvedPreset } from './presets.js'

export interface CacheEntry {
  path: string
  /** Relative to the cache's folder. */
  key: string
  sha256: string
}

const ENTRY = /^([a-z0-9_-]+)\.([0-9a-f]{12})\.([0-9a-f]{64})\.([a-z]+)$/

export class VariantCache {
  /** Entry names already found, so that a hit costs no directory listing. */
  private readonly known = new Map<string, string>()

  constructor (readonly dir: string, private readonly fsync: boolean) {}

  private folderOf (sha256: string): string {
    return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`
  }

  /** The verified bytes of the cached variant, or undefined (none, or a damaged one, now removed). */
  async read (sha256: string, preset: ResolvedPreset): Promise<{ bytes: Buffer, entry: CacheEntry } | undefined> {
    const memo = `${sha256}/${preset.name}.${preset.id}`
    const name = this.known.get(memo) ?? await this.find(sha256, preset)
    if (name === undefined) return undefined
    const key = `${this.folderOf(sha256)}/${name}`
    const path = join(this.dir, key)
    let bytes: Buffer
    try {
      bytes = await readFile(path)
    } catch (err) {
      this.known.delete(memo)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const digest = ENTRY.exec(name)![3]!
    if (createHash('sha256').update(bytes).digest('hex') !== digest) {
      this.known.delete(memo)
      await unlink(path).catch(() => {}) // damaged: made again by the caller
      return undefined
    }
    this.known.set(memo, name)
    return { bytes, entry: { path, key, sha256: digest } }
  }

  /** Writes the entry durably; an identical entry written meanwhile by another process is kept. */
  async write (sha256: string, preset: ResolvedPreset, bytes: Buffer): Promise<CacheEntry> {
    const digest = createHash('sha256').update(bytes).digest('hex')
    const name = `${preset.name}.${preset.id}.${digest}.${preset.format}`
    const folder = join(this.dir, this.folderOf(sha256))
    await mkdir(folder, { recursive: true })
    const temp = join(folder, `.${randomUUID()}.tmp`)
    const handle = await open(temp, 'wx')
    try {
      await handle.writeFile(bytes)
      if (this.fsync) await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await link(temp, join(folder, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      await unlink(temp).catch(() => {})
    }
    if (this.fsync) await fsyncDir(folder)
    this.known.set(`${sha256}/${preset.name}.${preset.id}`, name)
    const key = `${this.folderOf(sha256)}/${name}`
    return { path: join(this.dir, key), key, sha256: digest }
  }

  /** Removes every variant of `sha256`; how many there were. */
  async remove (sha256: string): Promise<number> {
    const folder = join(this.dir, this.folderOf(sha256))
    const names = await readdir(folder).catch(() => [])
    await rm(folder, { recursive: true, force: true })
    for (const memo of this.known.keys()) if (memo.startsWith(`${sha256}/`)) this.known.delete(memo)
    return names.filter(name => ENTRY.test(name)).length
  }

  /** Every file of the cache: entries (name parsed) and anything else (temps, strays). */
  async * walk (): AsyncGenerator<{ path: string, key: string, source: string, entry?: { preset: string, sha256: string } }> {
    for (const a of await listDir(this.dir)) {
      for (const b of await listDir(join(this.dir, a))) {
        for (const source of await listDir(join(this.dir, a, b))) {
          for (const name of await listDir(join(this.dir, a, b, source))) {
            const match = ENTRY.exec(name)
            const key = `${a}/${b}/${source}/${name}`
            yield { path: join(this.dir, key), key, source, entry: match === null ? undefined : { preset: match[1]!, sha256: match[3]! } }
          }
        }
      }
    }
  }

  private async find (sha256: string, preset: ResolvedPreset): Promise<string | undefined> {
    const prefix = `${preset.name}.${preset.id}.`
    return (await listDir(join(this.dir, this.folderOf(sha256)))).find(name => name.startsWith(prefix) && ENTRY.test(name))
  }
}

async function listDir (dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw err
  }
}

async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
