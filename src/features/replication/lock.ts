/**
 * One drainer at a time per state folder, so that two processes do not copy the same object at
 * once (a waste, not a danger: a copy is idempotent). The lock is a file naming its process, made
 * whole before it appears (a temp file linked into place), so that no one ever reads it empty and
 * takes it for abandoned. A lock whose process is gone (a SIGKILL) is taken over: renamed aside
 * first, so that of two processes taking it over only one wins. Processes on one host share the state.
 * Within a process the lock is counted: drains that overlap (a kick, the watcher, an explicit drain)
 * share it, and the file goes when the last of them releases it. The lock also names the boot it was
 * taken in: after a reboot its pid may belong to another live process, and the lock is abandoned all
 * the same; so is one whose pid a process that started after the lock was made has now. A lock made `perHolder` (the
 * ledger's compaction) is this object's alone: another one in the same process (a second storage on the same state
 * folder) finds it held, as another process would.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { BOOT, type ProcessId, SELF, stillRunning, thisBoot } from '../../core/process-identity.js'
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

const MISSING = Symbol('missing')

/** What a lock names: `pid boot` (`pid` where there is no boot id). */
const MINE = BOOT === '' ? String(SELF.pid) : `${SELF.pid} ${BOOT}`

/** Who holds a lock (boot '': a lock written before boots were named); `at`: when the lock was made (its mtime). */
type Holder = ProcessId

export class DrainLock {
  private holders = 0
  private taking: Promise<boolean> | undefined

  constructor(
    private readonly path: string,
    private readonly options: { perHolder?: boolean } = {}
  ) {}

  /** True if this process holds the lock now; each true is paired with one release(). */
  async acquire(): Promise<boolean> {
    if (this.holders === 0) {
      this.taking ??= this.take().finally(() => {
        this.taking = undefined
      })
      if (!(await this.taking)) return false
    }
    this.holders++
    return true
  }

  /** The process that holds the lock, if any. */
  holder(): number | undefined {
    try {
      const holder = this.read()
      return holder === MISSING || holder === undefined || !thisBoot(holder.boot) ? undefined : holder.pid
    } catch {
      return undefined
    }
  }

  /** Whether a live process holds the lock (one that died, or was cut by a power cut or a reboot, holds nothing). */
  isHeld(): boolean {
    try {
      const holder = this.read()
      return holder !== MISSING && holder !== undefined && stillRunning(holder)
    } catch {
      return false
    }
  }

  async release(): Promise<void> {
    if (this.holders === 0 || --this.holders > 0) return
    await unlink(this.path).catch(() => {})
  }

  private async take(): Promise<boolean> {
    await mkdir(dirname(this.path), { recursive: true })
    const mine = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      await writeFile(mine, MINE) // (in the try: a write a full disk cut short leaves no temp)
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await link(mine, this.path)
          return true
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        }
        const holder = this.read()
        if (holder === MISSING) continue // released meanwhile: try again
        const ours = holder !== undefined && thisBoot(holder.boot) && holder.pid === process.pid
        if (ours && this.options.perHolder !== true) return true // this process's, not released: shared
        // a lock without a process in it was cut by a power cut (a live one is made whole before it
        // appears): as abandoned as a dead one's (found by test/crash: else no copier ever drained again);
        // so is one taken before a reboot, whatever process has its pid now
        if (holder !== undefined && stillRunning(holder)) return false
        if (!(await this.takeOver(holder))) return false
      }
      return false
    } finally {
      await unlink(mine).catch(() => {})
    }
  }

  /** Who the lock names, undefined for an empty or torn lock, MISSING if there is none. */
  private read(): Holder | undefined | typeof MISSING {
    try {
      const text = readFileSync(this.path, 'utf8')
      return holderIn(text, statSync(this.path, { throwIfNoEntry: false })?.mtimeMs)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return MISSING
      throw err
    }
  }

  /** Moves aside the lock of `dead`; false if another process took it over first (its lock is put back). */
  private async takeOver(dead: Holder | undefined): Promise<boolean> {
    const aside = `${this.path}.${process.pid}.stale`
    try {
      await rename(this.path, aside)
    } catch {
      return true // gone meanwhile: try again
    }
    const moved = holderIn(readFileSync(aside, 'utf8'))
    const same = moved?.pid === dead?.pid && moved?.boot === dead?.boot
    if (!same) await link(aside, this.path).catch(() => {}) // a live process's, just made: put back
    await unlink(aside).catch(() => {})
    return same
  }
}

/** The holder a lock file names (`pid` or `pid boot`), or undefined for an empty or torn one. */
function holderIn(text: string, at?: number): Holder | undefined {
  const [first = '', boot = '', ...rest] = text.trim().split(' ')
  const pid = Number(first)
  return first !== '' && Number.isInteger(pid) && pid > 0 && rest.length === 0 ? { pid, boot, at } : undefined
}
