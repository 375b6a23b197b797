/**
 * `importTree`: stores every file below a folder (the dashboard's `original/` tree), resumably and
 * incrementally. The tree is walked in a fixed order (names sorted in each folder), streamed; each
 * file the mapping records (or `{mapping}.not-images.jsonl` beside it) is passed over by a lookup,
 * so a rerun over a growing tree stores every file added since, wherever its name sorts.
 */
import { readdir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { globMatcher } from './glob.js'
import { JsonLines } from './mapping.js'
import { hashesOf, runJob, type JobOptions, type JobSummary } from './runner.js'
import { folderOf, placeOf } from './stores.js'

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

/** Where `import` records the files that are not images: beside the mapping, which holds only mappings. */
export const notImagesFile = (mapping: string): string => `${mapping}.not-images.jsonl`

/** Stores every file below `dir`; the mapping says source → hash, key, size, duplicate. */
export async function importTree(storage: ImageStorage, dir: string, options: ImportOptions): Promise<ImportSummary> {
  const extra = { symlinks: [] as string[], notImages: [] as string[], excluded: 0 }
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
          const result = await storage.store({ path: join(dir, file) }, { allowNonImage: options.allowNonImage })
          return {
            source: file,
            hash: result.hash,
            sha256: result.sha256,
            key: result.key,
            size: result.size,
            duplicate: result.isDuplicate
          }
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
  // found in the order the concurrent work ended: reported sorted, the same in every run
  return { ...summary, ...extra, notImages: extra.notImages.sort(), symlinks: extra.symlinks.sort() }
}

/**
 * The files `importTree` takes from `dir`, in its order (a progress bar counts them for its total); those
 * left out (excluded, symbolic links not followed) are counted into `left` when given.
 */
export async function* importFiles(
  dir: string,
  options: Pick<ImportOptions, 'exclude' | 'followSymlinks'>,
  left?: { symlinks: string[]; excluded: number }
): AsyncGenerator<string> {
  const excluded = globMatcher(options.exclude ?? [])
  for await (const { path, symlink } of walk(dir, options.followSymlinks === true)) {
    if (excluded(path)) {
      if (left !== undefined) left.excluded++
    } else if (symlink) {
      if (left !== undefined && left.symlinks.length < 100) left.symlinks.push(path)
    } else yield path
  }
}

/** Every regular file below `dir` (and each symbolic link, unfollowed), relative to it, in walk order. */
async function* walk(dir: string, follow: boolean): AsyncGenerator<{ path: string; symlink: boolean }> {
  const seen = new Set<string>()
  async function* visit(prefix: string): AsyncGenerator<{ path: string; symlink: boolean }> {
    const real = await realpath(join(dir, prefix))
    if (seen.has(real)) return
    seen.add(real)
    const entries = await readdir(join(dir, prefix), { withFileTypes: true })
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
