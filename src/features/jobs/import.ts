/**
 * `importTree`: stores every file below a folder (the dashboard's `original/` tree), resumably and
 * incrementally. The tree is walked in a fixed order (names sorted in each folder), streamed; each
 * file the mapping records (or `{mapping}.not-images.jsonl` beside it) is passed over by a lookup,
 * so a rerun over a growing tree stores every file added since, wherever its name sorts.
 */
import type { Dirent } from 'node:fs'
import { readdir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { globMatcher } from './glob.js'
import { JsonLines } from './mapping.js'
import { hashesOf, LEFT_FOR_NEXT_RUN, runJob, type JobOptions, type JobSummary } from './runner.js'
import { identityOf, refuseUnfinishedJpeg, settled } from './settle.js'
import { folderOf, placeOf } from './stores.js'

export interface ImportOptions extends JobOptions {
  /** Follow symbolic links (a folder reached twice, as by a loop, is read once). Default: list them apart. */
  followSymlinks?: boolean
  /** Paths (relative to the folder) or names to leave out: `*.txt`, `thumbs/**`. */
  exclude?: string[]
  /** Store files that are not images as well (`application/octet-stream`). */
  allowNonImage?: boolean
  /**
   * How long a file must have rested (no write, truncation or `utimes`) before it is taken; a younger one is waited
   * for, in its turn (settle.ts). Default 2000: a frame still being written would be stored, and recorded, as a
   * prefix of itself. 0 takes every file as it is found.
   */
  minAgeMs?: number
}

export interface ImportSummary extends JobSummary {
  /** Symbolic links passed over (without `followSymlinks`), the first 100. */
  symlinks: string[]
  /** Files that are not images, found by this run (recorded: later runs pass over them), the first 100. */
  notImages: string[]
  /** Files left out by `exclude`. */
  excluded: number
}

/** How long a file must have rested before an import takes it, by default (`ImportOptions.minAgeMs`). */
export const DEFAULT_MIN_AGE_MS = 2000

/** Where `import` records the files that are not images: beside the mapping, which holds only mappings. */
export const notImagesFile = (mapping: string): string => `${mapping}.not-images.jsonl`

/** Stores every file below `dir`; the mapping says source → hash, key, size, duplicate. */
export async function importTree(storage: ImageStorage, dir: string, options: ImportOptions): Promise<ImportSummary> {
  const extra = { symlinks: [] as string[], notImages: [] as string[], excluded: 0, unreadable: [] as Unreadable[] }
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
  } catch (err) {
    throw InvalidInputError.unreadable(dir, err, 'import the directory')
  }
  // files recorded as not images: passed over, until non-images are to be stored
  const notImage = new Set<string>()
  let notImages: JsonLines | undefined
  const summary = await runJob(
    {
      name: 'import',
      field: 'source',
      idOf: path => path,
      mappingOf: async bind => ({ job: 'import', from: folderOf(dir), to: await placeOf(storage, bind) }),
      // an earlier release's mapping is checked once against this store: its lost or other store's frames again
      present: () => hashesOf(storage.list({ signal: options.signal })),
      presentOnlyWhenBinding: true,
      stores: [storage],
      items: () => importFiles(dir, options, extra),
      onNotImage: path => notImage.add(path),
      finishedElsewhere: path => options.allowNonImage !== true && notImage.has(path),
      prepare: async () => {
        notImages = await JsonLines.open(notImagesFile(options.mapping), entry => {
          if (typeof entry.source === 'string') notImage.add(entry.source)
        })
      },
      work: async file => {
        try {
          return await storeRested(storage, dir, file, options)
        } catch (err) {
          if (!(err instanceof InvalidInputError) || !/^Input is not an image/.test(err.message)) throw err
          if (extra.notImages.length < 100) extra.notImages.push(file)
          await notImages!.append({ source: file, notImage: true })
          return undefined
        }
      }
    },
    options
  ).finally(async () => {
    await notImages?.close()
  })
  // a folder that could not be read failed as an item does (exit 1), and its files wait for the next run
  const { unreadable, ...left } = extra
  summary.failed.push(...unreadable)
  // found in the order the concurrent work ended: reported sorted, the same in every run
  return { ...summary, ...left, notImages: extra.notImages.sort(), symlinks: extra.symlinks.sort() }
}

/** Stores `file` once it has rested (settle.ts): its mapping record, or `LEFT_FOR_NEXT_RUN` if the run stopped. */
async function storeRested(
  storage: ImageStorage,
  dir: string,
  file: string,
  options: ImportOptions
): Promise<Record<string, unknown> | typeof LEFT_FOR_NEXT_RUN> {
  const path = join(dir, file)
  const rested = await settled(path, options.minAgeMs ?? DEFAULT_MIN_AGE_MS, options.signal)
  if (rested === undefined) return LEFT_FOR_NEXT_RUN
  await refuseUnfinishedJpeg(path)
  const result = await storage.store({ path }, { allowNonImage: options.allowNonImage })
  // changed since it rested (rewritten, replaced): what was read may be neither version; the next run takes it
  if ((await identityOf(path)) !== rested)
    throw new InvalidInputError(`${path} changed while it was imported: not recorded; the next run takes it again`)
  const { hash, sha256, key, size, isDuplicate } = result
  return { source: file, hash, sha256, key, size, duplicate: isDuplicate }
}

/**
 * The files `importTree` takes from `dir`, in its order (a progress bar counts them for its total); those
 * left out (excluded, symbolic links not followed) are counted into `left` when given.
 */
export async function* importFiles(
  dir: string,
  options: Pick<ImportOptions, 'exclude' | 'followSymlinks'>,
  left?: { symlinks: string[]; excluded: number; unreadable?: Unreadable[] }
): AsyncGenerator<string> {
  const excluded = globMatcher(options.exclude ?? [])
  for await (const { path, symlink } of walk(dir, options.followSymlinks === true, left?.unreadable)) {
    if (excluded(path)) {
      if (left !== undefined) left.excluded++
    } else if (symlink) {
      if (left !== undefined && left.symlinks.length < 100) left.symlinks.push(path)
    } else yield path
  }
}

/** A folder below the imported one that could not be read (EACCES, EIO, gone meanwhile), as a failed item. */
type Unreadable = { item: string; code: string; message: string }

/**
 * Every regular file below `dir` (and each symbolic link, unfollowed), relative to it, in walk order. A folder below
 * it that cannot be read goes into `unreadable` (the walk goes on: the folders after it are not left for it).
 */
async function* walk(
  dir: string,
  follow: boolean,
  unreadable?: Unreadable[]
): AsyncGenerator<{ path: string; symlink: boolean }> {
  const seen = new Set<string>()
  async function* visit(prefix: string): AsyncGenerator<{ path: string; symlink: boolean }> {
    let real: string
    let entries: Dirent[]
    try {
      real = await realpath(join(dir, prefix))
      entries = seen.has(real) ? [] : await readdir(join(dir, prefix), { withFileTypes: true })
    } catch (err) {
      if (prefix === '') throw InvalidInputError.unreadable(dir, err, 'import the directory') // (EACCES: 0700)
      if (unreadable === undefined) throw err
      const { code = 'EIO', message } = err as NodeJS.ErrnoException
      unreadable.push({ item: `${prefix}/`, code: 'ERR_STORAGE_UNAVAILABLE', message: `${code}: ${message}` })
      return
    }
    if (seen.has(real)) return
    seen.add(real)
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      let kind: { isDirectory: () => boolean; isFile: () => boolean } = entry
      if (entry.isSymbolicLink()) {
        if (!follow) {
          yield { path, symlink: true }
          continue
        }
        kind = await stat(join(dir, path)).catch(() => ({ isDirectory: () => false, isFile: () => false }))
      }
      if (kind.isDirectory()) {
        yield* visit(path)
      } else if (kind.isFile()) {
        yield { path, symlink: false }
      }
    }
  }
  yield* visit('')
}
