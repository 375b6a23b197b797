/**
 * A process as a lock file or a leftover names it: its pid and the boot it runs in; and, against a pid reused
 * within a boot, when it started. A pid alone outlives its process: after a reboot, or once the kernel hands it to
 * another (a container's PID 1 is alive again after every restart), it names a live process that never wrote the
 * record. A process that started after the record was made is not its writer.
 */
import { readFileSync } from 'node:fs'

/** This boot's id (Linux); '' where there is none, and only the pid tells. */
export const BOOT = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
})()

/** When this boot began, in ms (/proc/stat's btime); undefined where unknown. */
const BOOTED_AT = (() => {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]
    return btime === undefined ? undefined : Number(btime) * 1000
  } catch {
    return undefined
  }
})()

/**
 * When process `pid` started, in ms (/proc/<pid>/stat's 22nd field: ticks of USER_HZ, 100 a second on Linux, since
 * the boot); undefined where unknown.
 */
export function startedAt(pid: number): number | undefined {
  if (BOOTED_AT === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    return Number.isFinite(ticks) ? BOOTED_AT + ticks * 10 : undefined
  } catch {
    return undefined
  }
}

export interface ProcessId {
  pid: number
  /** The boot's id, or a prefix of it; '' where unknown (a record written before boots were named): trusted. */
  boot: string
  /** When the record naming it was made (its file's time), if known: its process started before. */
  at?: number
}

export const SELF: ProcessId = { pid: process.pid, boot: BOOT }

/** Whether a process of this id runs on this host (one that is not ours to signal runs too). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether `boot` (an id, or its prefix in a short name) is this boot's. */
export function thisBoot(boot: string): boolean {
  return boot === '' || BOOT === '' || BOOT.startsWith(boot)
}

/**
 * Whether the process `id` names still runs: this boot, its pid alive, and (where the record's time is known)
 * started before the record was made, give or take the clocks' steps (a second).
 */
export function stillRunning({ pid, boot, at }: ProcessId): boolean {
  if (!thisBoot(boot) || !alive(pid)) return false
  const started = at === undefined ? undefined : startedAt(pid)
  return started === undefined || started <= at! + 1000
}
