/**
 * One drainer at a time per state folder, so that two processes do not copy the same object at
 * once (a waste, not a danger: a copy is idempotent). The lock is a file naming its process, made
 * whole before it appears (a temp file linked into place), so that no one ever reads it empty and
 * takes it for abandoned. A lock whose process is gone (a SIGKILL) is taken over: renamed aside
 * first, so that of two processes taking it over only one wins. Processes on one host share the state.
 * Within a process the lock is counted: drains that overlap (a kick, the watcher, an explicit drain)
 * share it, and the file goes when the last of them releases it.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

const MISSING = Symbol('missing')

export class DrainLock {
  private holders = 0
  private taking: Promise<boolean> | undefined

  constructor(private readonly path: string) {}

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
      const pid = this.read()
      return pid === MISSING ? undefined : pid
    } catch {
      return undefined
    }
  }

  async release(): Promise<void> {
    if (this.holders === 0 || --this.holders > 0) return
    await unlink(this.path).catch(() => {})
  }

  private async take(): Promise<boolean> {
    await mkdir(dirname(this.path), { recursive: true })
    const mine = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(mine, String(process.pid))
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await link(mine, this.path)
          return true
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        }
        const holder = this.read()
        if (holder === MISSING) continue // released meanwhile: try again
        if (holder === process.pid) return true // ours, left by a drain that did not release it
        // a lock without a process in it was cut by a power cut (a live one is made whole before it
        // appears): as abandoned as a dead one's (found by test/crash: else no copier ever drained again)
        if (holder !== undefined && alive(holder)) return false
        if (!(await this.takeOver(holder))) return false
      }
      return false
    } finally {
      await unlink(mine).catch(() => {})
    }
  }

  /** The pid in the lock, undefined for an empty or torn lock, MISSING if there is none. */
  private read(): number | undefined | typeof MISSING {
    try {
      return pidIn(readFileSync(this.path, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return MISSING
      throw err
    }
  }

  /** Moves aside the lock of `dead`; false if another process took it over first (its lock is put back). */
  private async takeOver(dead: number | undefined): Promise<boolean> {
    const aside = `${this.path}.${process.pid}.stale`
    try {
      await rename(this.path, aside)
    } catch {
      return true // gone meanwhile: try again
    }
    const moved = pidIn(readFileSync(aside, 'utf8'))
    if (moved !== dead) await link(aside, this.path).catch(() => {}) // a live process's, just made: put back
    await unlink(aside).catch(() => {})
    return moved === dead
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The process a lock file names, or undefined for an empty or torn one. */
function pidIn(text: string): number | undefined {
  const pid = Number(text.trim())
  return text.trim() !== '' && Number.isInteger(pid) && pid > 0 ? pid : undefined
}
