/**
 * `importTree`: stores every file below a folder (the dashboard's `original/` tree), resumably.
 * The tree is walked in a fixed order (names sorted in each folder), streamed, so memory stays
 * flat. A file that is not an image is recorded once (`notImage`), not as a failure, and passed
 * over by later runs.
 */
import type { Dirent } from 'node:fs'
import { opendir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { globMatcher } from './glob.js'
import { runJob, type JobOptions, type JobSummary } from './runner.js'

export interface ImportOptions extends JobOptions {
  /** Follow symbolic links (a folder reached twice, as by a loop, is read once). Default: list them apart. */
  followSymlinks?: boolean
  /** Paths (relative to the folder) or names to leave out: `*.txt`, `thumbs/**`. */
  exclude?: string[]
  /** Store files that are not images as well (`application/octet-stream`). */
  allowNonImage?: boolean
}

export interface ImportSummary extends JobSummary {
  /** Symbolic links passed over (without `followSymlinks`), the first 100. */
  symlinks: string[]
  /** Files that are not images, found by this run (recorded: later runs pass over them), the first 100. */
  notImages: string[]
  /** Files left out by `exclude`. */
  excluded: number
}

/** Stores every file below `dir`; the mapping says source → hash, key, size, duplicate. */
export async function importTree (storage: ImageStorage, dir: string, options: ImportOptions): Promise<ImportSummary> {
  const extra = { symlinks: [] as string[], notImages: [] as string[], excluded: 0 }
  let notImagesFound = 0
  const excluded = globMatcher(options.exclude ?? [])
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
  } catch (err) {
    throw InvalidInputError.unreadable(dir, err, 'import the directory')
  }
  async function * files (): AsyncGenerator<string> {
    for await (const { path, symlink } of walk(dir, options.followSymlinks === true)) {
      if (excluded(path)) extra.excluded++
      else if (symlink) { if (extra.symlinks.length < 100) extra.symlinks.push(path) } else yield path
    }
  }
  const summary = await runJob({
    name: 'import',
    field: 'source',
    idOf: path => path,
    keyOf: path => path,
    keyOfLine: line => typeof line.source === 'string' ? line.source : undefined,
    compare: comparePaths,
    // a file recorded as not an image is tried again once non-images are to be stored
    finishedLine: line => line.notImage !== true || options.allowNonImage !== true,
    items: files,
    work: async file => {
      try {
        const result = await storage.store({ path: join(dir, file) }, { allowNonImage: options.allowNonImage })
        return { source: file, hash: result.hash, sha256: result.sha256, key: result.key, size: result.size, duplicate: result.isDuplicate }
      } catch (err) {
        if (!(err instanceof InvalidInputError) || !/^Input is not an image/.test(err.message)) throw err
        notImagesFound++
        if (extra.notImages.length < 100) extra.notImages.push(file)
        return { source: file, notImage: true }
      }
    }
  }, options)
  // found in the order the concurrent work ended: reported sorted, the same in every run
  return { ...summary, done: summary.done - notImagesFound, ...extra, notImages: extra.notImages.sort(), symlinks: extra.symlinks.sort() }
}

/** Paths in walk order: folder by folder, names sorted (`a/b` before `a-c`). */
export function comparePaths (a: string, b: string): number {
  const [x, y] = [a.split('/'), b.split('/')]
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
  }
  return x.length - y.length
}

/** Every regular file below `dir` (and each symbolic link, unfollowed), relative to it, in walk order. */
async function * walk (dir: string, follow: boolean): AsyncGenerator<{ path: string, symlink: boolean }> {
  const seen = new Set<string>()
  async function * visit (prefix: string): AsyncGenerator<{ path: string, symlink: boolean }> {
    const real = await realpath(join(dir, prefix))
    if (seen.has(real)) return
    seen.add(real)
    const entries: Dirent[] = []
    for await (const entry of await opendir(join(dir, prefix))) entries.push(entry)
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const entry of entries) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      let kind: { isDirectory: () => boolean, isFile: () => boolean } = entry
      if (entry.isSymbolicLink()) {
        if (!follow) {
          yield { path, symlink: true }
          continue
        }
        kind = await stat(join(dir, path)).catch(() => ({ isDirectory: () => false, isFile: () => false }))
      }
      if (kind.isDirectory()) {
        yield * visit(path)
      } else if (kind.isFile()) {
        yield { path, symlink: false }
      }
    }
  }
  yield * visit('')
}
