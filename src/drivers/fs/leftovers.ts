/**
 * What writers leave behind when they are killed or the power goes, and how a verify tells it from a live writer's
 * own: temps in `.tmp` (or beside a frame), and a prune's set-aside objects in `.pruning` (set-aside.ts).
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import { stillRunning } from '../../core/process-identity.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { Finding } from '../../core/verify-report.js'

/**
 * How a temp whose times are set back (a store that keeps a copy's times: `migrate`) ends: its age is its change
 * time (`tempAge`), not its modification time, or a repair would take it for a leftover.
 */
export const KEPT_TEMP = '.kept.tmp'

/** Stray temps in `.tmp`, and a killed prune's set-aside objects in `.pruning`, old enough to be no live one's. */
export async function findLeftovers(
  root: string,
  old: (ms: number) => boolean,
  found: (finding: Finding, sha256?: string) => Promise<void>
): Promise<void> {
  for (const name of names(join(root, SPECIAL_DIRS.temp))) {
    const path = join(root, SPECIAL_DIRS.temp, name)
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats?.isFile() === true && old(tempAge(path, stats.mtimeMs, stats.ctimeMs)))
      await found({ path, key: `${SPECIAL_DIRS.temp}/${name}`, reason: 'stray-temp' })
  }
  // a prune's set-aside objects: a dead prune's (its name says whose) are put back at once, as any that changed, by
  // its rename, tempMinAgeMs ago or more; a younger one may be a live prune's own
  for (const name of names(join(root, SPECIAL_DIRS.pruning))) {
    const path = join(root, SPECIAL_DIRS.pruning, name)
    const stats = statSync(path, { throwIfNoEntry: false })
    const left = stats !== undefined && (old(stats.ctimeMs) || setAsideByLive(name, stats.ctimeMs) === false)
    if (stats?.isFile() === true && /^[0-9a-f]{64}\./.test(name) && left) {
      await found({ path, key: `${SPECIAL_DIRS.pruning}/${name}`, reason: 'set-aside' }, name.slice(0, 64))
    }
  }
}

/**
 * The time a temp last changed: its modification time (an operator or a test ages a leftover with `touch`),
 * except for a store's that keeps a copy's times (KEPT_TEMP), set back on purpose: its change time.
 */
export function tempAge(path: string, mtimeMs: number, ctimeMs?: number): number {
  if (!path.endsWith(KEPT_TEMP)) return mtimeMs
  return ctimeMs ?? statSync(path, { throwIfNoEntry: false })?.ctimeMs ?? Number.POSITIVE_INFINITY // gone: no leftover
}

/**
 * Whether the prune that set `name` aside (at `ctimeMs`, its rename) still runs; undefined for a name that does not
 * say whose it is (an older version's).
 */
function setAsideByLive(name: string, ctimeMs: number): boolean | undefined {
  const match = /^[0-9a-f]{64}\.p(\d+)_([0-9a-f-]{0,8})\./.exec(name)
  return match === null ? undefined : stillRunning({ pid: Number(match[1]), boot: match[2]!, at: ctimeMs })
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}
