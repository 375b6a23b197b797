/**
 * The store records its layout: a store made by this library holds `{root}/.sai-layout.json`,
 * `{"depth":2,"width":2}`, written once when its first object is stored into an empty root. A
 * process whose settings say otherwise gets `ERR_CONFIG` at its first call, naming both, instead
 * of an empty store ("0 objects checked: clean") or objects written where no reader looks. A store
 * without the file (storage.py's, or one made before it) is judged by its first shard folders
 * before a walk of the whole store. storage.py never looks at a dot-file, and no walk reads it.
 */
import { randomUUID } from 'node:crypto'
import { linkSync, readdirSync, readFileSync, type Dirent } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { LAYOUT_FILE, SPECIAL_DIRS } from '../../core/special-dirs.js'
import { fsyncDir, removeIfExists } from './write.js'

export { LAYOUT_FILE }

const OBJECT = /^[0-9a-f]{64}\.jpg$/

interface Layout {
  depth: number
  width: number
}

export class StoreLayout {
  /** The recorded layout (if any) was found to be the settings' (`check`). */
  checked = false
  private hasRecord = false
  private walkChecked = false
  private readonly wanted?: Layout

  constructor(
    private readonly root: string,
    sharding: ShardingStrategy
  ) {
    // a strategy of the caller's own has no descriptor to record: nothing is checked
    const described = sharding.descriptor
    if (described !== undefined) this.wanted = { depth: described.depth, width: described.width }
  }

  /** At the first call (one read of a small file): the recorded layout, if any, is the settings'. */
  check(): void {
    if (this.checked || this.wanted === undefined) return
    const recorded = this.recorded()
    if (recorded !== undefined) this.compare(recorded, `its ${LAYOUT_FILE}`)
    this.checked = true
    this.hasRecord = recorded !== undefined
  }

  /** Before a walk of the whole store: without a record, the first shard folders must fit the settings. */
  checkWhole(): void {
    this.check()
    if (this.hasRecord || this.walkChecked || this.wanted === undefined) return
    const found = this.inferred()
    if (typeof found === 'object') this.compare(found, 'its first shard folders')
    this.walkChecked = true
  }

  /**
   * Before the first write into a root (made, if the library may, by the caller): records the
   * layout if the store is empty, else checks the folders it holds. Crash-safe: written in
   * `.tmp`, fsynced, linked into place without overwriting (a writer that raced us wins, and its
   * record is checked), and the root fsynced; even with `fsync: false`, which loses frames to a power
   * cut, not the store: a record torn by one would refuse every later call (once per store, it costs nothing).
   */
  async record(): Promise<void> {
    this.checked = false // read again: another process may have made the store since
    this.check()
    if (this.hasRecord || this.wanted === undefined) return
    if (this.inferred() !== 'empty') {
      this.checkWhole() // objects there and no record: storage.py's store (or an older one), left as it is
      return
    }
    const temp = join(this.root, SPECIAL_DIRS.temp, `${randomUUID()}.tmp`)
    const handle = await open(temp, 'wx', 0o644)
    try {
      await handle.writeFile(JSON.stringify(this.wanted) + '\n')
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      linkSync(temp, join(this.root, LAYOUT_FILE))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      await removeIfExists(temp)
    }
    await fsyncDir(this.root)
    this.checked = false
    this.check() // ours, or the record of a writer that raced us
  }

  private recorded(): Layout | undefined {
    let text
    try {
      text = readFileSync(join(this.root, LAYOUT_FILE), 'utf8')
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined
      throw err
    }
    let layout: Partial<Layout> | undefined
    try {
      layout = JSON.parse(text)
    } catch {}
    if (!Number.isInteger(layout?.depth) || !Number.isInteger(layout?.width))
      throw new ConfigError(
        join(this.root, LAYOUT_FILE),
        `not a layout record: ${JSON.stringify(text.slice(0, 80))} (expected {"depth":2,"width":2})`
      )
    return { depth: layout!.depth!, width: layout!.width! }
  }

  /**
   * The layout the first shard folders show (the first hex name at each level, down to a
   * `<sha256>.jpg`): `empty` for a root with nothing but dot-files, `unknown` for a first chain of
   * folders that holds no object (emptied by a prune).
   */
  private inferred(): Layout | 'empty' | 'unknown' {
    let dir = this.root
    let width = 0
    for (let depth = 0; depth <= 8; depth++) {
      let entries: Dirent[]
      try {
        // only what a store holds: hex folders and objects (not lost+found, not dot-files)
        entries = readdirSync(dir, { withFileTypes: true })
          .filter(e => (e.isDirectory() && /^[0-9a-f]+$/.test(e.name)) || (e.isFile() && OBJECT.test(e.name)))
          .sort((a, b) => (a.name < b.name ? -1 : 1))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'empty'
        throw err
      }
      if (depth === 0 && entries.length === 0) return 'empty'
      const folder = entries.find(e => e.isDirectory())
      if (folder === undefined) return entries.length > 0 ? { depth, width } : 'unknown'
      if (depth === 0) width = folder.name.length
      dir = join(dir, folder.name)
    }
    return 'unknown'
  }

  private compare(found: Layout, where: string): void {
    const wanted = this.wanted!
    // depth 0: no folders, any width
    if (found.depth === wanted.depth && (found.width === wanted.width || found.depth === 0)) return
    const say = (l: Layout): string =>
      l.depth === 0 ? 'depth 0 (no folders)' : `depth ${l.depth} and width ${l.width}`
    // (the sharding option: the factory names the variables, SAI_IMAGE_STORAGE_SHARD_DEPTH and ..._WIDTH)
    throw ConfigError.forOption(
      'sharding',
      `the store at ${this.root} has shard ${say(found)} (${where}), but the settings say ${say(wanted)}: ` +
        'set them to what the store has, or name another root'
    )
  }
}
