/** `verify --checkpoint F [--resume]`: where a long run is, so that a stopped one goes on. */
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import type { Subset } from './commands/verify-text.js'
import type { Context } from './context.js'

/**
 * --checkpoint F: where a run is, saved at most once a second, with the store, the subset and the
 * repair it is of: `--resume` goes on after its hash only in a run of the same (a run of another
 * subset or store would skip objects it never checked, a repair objects only checked). Not fsynced
 * (a lost one costs only time), so after a power cut it may be empty, torn or gone: then the run
 * starts over from the first object, and says so.
 */
export class Checkpoint {
  private saved = Date.now()
  private pending: Promise<void> = Promise.resolve()
  private finished = false
  /** Where the first finding is, in the pass's SHA-256 order. */
  private cap: string | undefined
  private readonly of: { store: string | undefined; subset: string | undefined; repair: true | undefined }

  constructor(
    private readonly cli: Pick<Context, 'note'>,
    private readonly path: string,
    store: string | undefined,
    subset: Subset | undefined,
    repair = false
  ) {
    const part = subset === undefined ? undefined : `${subset.index}/${subset.count}`
    this.of = { store, subset: part, repair: repair ? true : undefined }
  }

  async read(): Promise<string | undefined> {
    const text = await readFile(this.path, 'utf8').catch(() => '')
    let saved: { after?: unknown; store?: unknown; subset?: unknown; repair?: unknown } = {}
    try {
      saved = JSON.parse(text) ?? {}
    } catch {}
    const { after } = saved
    const why =
      typeof after !== 'string' || !/^[0-9a-f]{64}$/.test(after)
        ? `holds no position (${text === '' ? 'empty or missing' : 'unreadable'})`
        : saved.store !== this.of.store || saved.subset !== this.of.subset || saved.repair !== this.of.repair
          ? `is of another run (${runOf(saved)}, not ${runOf(this.of)})`
          : undefined
    if (why === undefined) return after as string
    this.cli.note(`the checkpoint ${this.path} ${why}: from the start`)
    return undefined
  }

  /**
   * A finding of the pass: no checkpoint goes past it. The pass reports its findings, and a repair acts on them,
   * only at its end (after the storm guard): a run resumed after a finding it never reported nor repaired would
   * skip it and say clean (found by the crash workload `verify-checkpoint`).
   */
  found(key: string): void {
    const position = positionOf(key)
    if (position !== undefined && (this.cap === undefined || position < this.cap)) this.cap = position
  }

  /**
   * Records `done` (or just before the first finding), at most once a second; one write at a time, none once the
   * run finished.
   */
  save(done: string): void {
    const after = this.cap === undefined || done < this.cap ? done : before(this.cap)
    if (after === undefined || this.finished || Date.now() - this.saved <= 1000) return
    this.saved = Date.now()
    const text = JSON.stringify({ after, ...this.of, at: new Date().toISOString() }) + '\n'
    this.pending = this.pending
      .then(async () => {
        await writeFile(`${this.path}.tmp`, text)
        await rename(`${this.path}.tmp`, this.path)
      })
      .catch((err: unknown) => {
        this.cli.note(`could not save the checkpoint ${this.path} (${(err as Error).message}): a --resume starts over`)
      })
  }

  /** The run finished: the checkpoint goes, after any save still under way (it would bring it back). */
  async finish(): Promise<void> {
    this.finished = true
    await this.pending
    await rm(this.path, { force: true })
  }
}

const runOf = ({ store, subset, repair }: { store?: unknown; subset?: unknown; repair?: unknown }): string =>
  `store ${typeof store === 'string' ? store : 'unknown'}, ` +
  `${typeof subset === 'string' ? `subset ${subset}` : 'every object'}${repair === true ? ', --repair' : ''}`

/**
 * Where a finding's key is in the pass's order: its shard folders' hex (a misnamed or misplaced file is met in its
 * folder, whatever its name says), else the SHA-256 it names; undefined for a leftover outside the shard folders
 * (every pass, resumed too, looks at those).
 */
function positionOf(key: string): string | undefined {
  const folders = key.split('/').slice(0, -1)
  if (folders.length > 0 && folders.every(f => /^[0-9a-f]+$/i.test(f)))
    return folders.join('').toLowerCase().padEnd(64, '0')
  return /[0-9a-f]{64}/i.exec(key)?.[0].toLowerCase()
}

/** The SHA-256 just before `sha256` (a resume goes on after it), or undefined before the first. */
function before(sha256: string): string | undefined {
  const n = BigInt(`0x${sha256}`)
  return n === 0n ? undefined : (n - 1n).toString(16).padStart(64, '0')
}
