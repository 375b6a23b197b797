/** `status`: replication's state for people and for monitors (an exit code per condition). */
import { existsSync } from 'node:fs'
import { countUnseen, type ReplicatedStorage, type Unseen } from '../../features/replication/index.js'
import { plural, storeLine, type Context } from '../context.js'
import { notFramesAt, notFramesLine } from '../not-a-store.js'
import { parseDuration } from '../units.js'
import { failing, replicated } from './replication.js'

import { STATUS_EXIT } from '../specs/status.js'

export { STATUS_EXIT }

export async function status(cli: Context): Promise<number> {
  const storage = await replicated(cli)
  const rootExists = storage.root === undefined || existsSync(storage.root)
  const maxAge = parseDuration(cli.string('max-backlog-age') ?? '1h', '--max-backlog-age')
  const s = storage.status()
  const unseen = await countUnseen(storage)
  const notFrames = notFramesAt(storage.root)
  const maxScanAge = parseDuration(cli.string('max-scan-age') ?? '2d', '--max-scan-age')
  const alerts = [
    ...statusAlerts(s, maxAge),
    ...staleScanAlerts(s, maxScanAge),
    ...unqueuedAlerts(unseen, maxAge),
    ...unreadableAlerts(unseen),
    ...rootAlerts(storage.root, rootExists ? notFrames : 0, cli.flags['allow-empty'] === true)
  ]
  const scan =
    s.countedBy === undefined
      ? 'never'
      : `by ${s.countedBy} at ${(s.countedBy === 'verify' ? s.lastVerifyAt : s.lastReconcileAt)!.toISOString()}`
  cli.out(
    s.replicas
      .map(
        r =>
          `${r.name}: ${r.pending} pending` +
          (r.oldestPendingAt === undefined ? '' : ` (oldest since ${r.oldestPendingAt.toISOString()})`) +
          `${failing(r, '; ')}`
      )
      .join('\n') +
      unseenLines(unseen) +
      `\nlast reconcile: ${s.lastReconcileAt?.toISOString() ?? 'never'}; last whole scan: ${scan}` +
      (s.belowWantedCopies === undefined
        ? ''
        : `; ${plural(s.belowWantedCopies, 'frame')} below the wanted copies${copiedSince(s)}, ${s.lost ?? 0} lost`) +
      (s.lostSince === undefined ? '' : `; ${plural(s.lostSince, 'frame')} found lost by the copier since`) +
      `\nheals: ${s.heals.healed}${s.heals.lastAt === undefined ? '' : ` (last ${s.heals.lastAt.toISOString()})`}` +
      alerts.map(a => `\nALERT (exit ${a.exit}): ${a.message}`).join('') +
      `\n${storeLine(storage)}`,
    {
      ...s,
      unseen: unseen ?? null,
      alerts,
      store: storage.location,
      ...(rootExists ? {} : { rootExists }),
      ...(notFrames === undefined ? {} : { notFrames })
    }
  )
  return exitOf(alerts)
}

/** A known loss outranks every other condition (an unreadable folder's 14 included); then the highest code. */
export function exitOf(alerts: { exit: number }[]): number {
  const rank = (exit: number) => (exit === STATUS_EXIT.lost ? Number.POSITIVE_INFINITY : exit)
  return alerts.reduce((worst, a) => (rank(a.exit) > rank(worst) ? a.exit : worst), 0)
}

type Alert = { condition: keyof typeof STATUS_EXIT; exit: number; message: string }

/** What a monitor should hear about, each with its exit code and what to do. */
function statusAlerts(s: ReturnType<ReplicatedStorage['status']>, maxAge: number): Alert[] {
  const alerts: Alert[] = []
  const old = s.replicas.filter(
    r => r.oldestPendingAt !== undefined && Date.now() - r.oldestPendingAt.getTime() > maxAge
  )
  if (old.length > 0)
    alerts.push({
      condition: 'backlog',
      exit: STATUS_EXIT.backlog,
      message:
        `copies waiting longer than --max-backlog-age for ${old.map(r => r.name).join(', ')}: ` +
        'is `sai-images replicate --watch` running? (`sai-images replicate` names each frame whose copy fails)'
    })
  const down = s.replicas.filter(r => r.failing !== undefined)
  if (down.length > 0)
    alerts.push({
      condition: 'unreachable',
      exit: STATUS_EXIT.unreachable,
      message:
        `unreachable: ${down.map(r => `${r.name}${failing(r, ' ')}`).join(', ')}; ` +
        'check it, then `sai-images replicate`'
    })
  // a lost frame is below its copies too, but no copy can be made of it: the next alert speaks of it
  const recoverable = (s.belowWantedCopies ?? 0) - (s.lost ?? 0)
  if (recoverable > 0)
    alerts.push({
      condition: 'belowWanted',
      exit: STATUS_EXIT.belowWanted,
      message:
        `${plural(recoverable, 'frame')} below the wanted copies at the last scan: ` +
        '`sai-images replicate` copies them again (and names each frame whose copy fails)'
    })
  if ((s.lost ?? 0) + (s.lostSince ?? 0) > 0)
    alerts.push({
      condition: 'lost',
      exit: STATUS_EXIT.lost,
      message:
        lostWhen(s) +
        ': `sai-images verify --json` names them; restore them from a backup, ' +
        'or `sai-images delete` one to stop reporting it'
    })
  return alerts
}

/**
 * The last whole scan older than `maxAge` (none yet: a new store, not said): its counts are that old, and a reconcile
 * that keeps failing (a listing refused, pages timing out) leaves a loss since unheard, as the copies still work.
 */
function staleScanAlerts(s: ReturnType<ReplicatedStorage['status']>, maxAge: number): Alert[] {
  const last = Math.max(s.lastReconcileAt?.getTime() ?? 0, s.lastVerifyAt?.getTime() ?? 0)
  if (last === 0 || Date.now() - last <= maxAge) return []
  return [
    {
      condition: 'staleScan',
      exit: STATUS_EXIT.staleScan,
      message:
        `the last whole scan was at ${new Date(last).toISOString()}, longer ago than --max-scan-age: its counts ` +
        'are that old. Is `sai-images replicate --watch` reconciling? (its log says why a reconcile fails)'
    }
  ]
}

/** Frames other writers put on the primary that nobody queued for longer than `maxAge`: no watcher finds them. */
function unqueuedAlerts(unseen: Unseen | undefined, maxAge: number): Alert[] {
  const oldest = unseen?.oldestAt
  if (oldest == null || Date.now() - oldest.getTime() <= maxAge) return []
  return [
    {
      condition: 'backlog',
      exit: STATUS_EXIT.backlog,
      message:
        `${plural(unseen!.frames, 'frame')} from other writers not queued for longer than --max-backlog-age ` +
        `(the oldest written ${oldest.toISOString()}): is \`sai-images replicate --watch\` running?`
    }
  ]
}

/** Frames other writers put on the primary that no outbox names yet, and the watcher's state. */
function unseenLines(unseen: Unseen | undefined): string {
  if (unseen === undefined) return ''
  const { watcher } = unseen
  const since =
    unseen.since === null ? 'ever (no watcher pass or reconcile yet)' : `since ${unseen.since.toISOString()}`
  const state =
    watcher === null
      ? 'never ran here (replicate --watch)'
      : `${watcher.state === 'stale' ? 'STALE' : watcher.state}, last pass ${watcher.at.toISOString()}` +
        (watcher.mechanism === undefined ? '' : `, finding frames by ${watcher.mechanism}`)
  const { incomplete } = unseen
  const failing = watcher?.failing
  return (
    `\nnot yet queued: ${incomplete === null ? '' : 'at least '}${plural(unseen.frames, 'frame')} on the primary ` +
    `from other writers, in folders changed ${since} (counted ${unseen.at.toISOString()})` +
    (incomplete === null ? '' : `; INCOMPLETE: ${unreadable(incomplete)}`) +
    `\nwatcher: ${state}` +
    (failing === undefined ? '' : `; FAILING since ${failing.since}: ${unreadable(failing)}`)
  )
}

/** A folder of the primary that status or a live watcher cannot read: frames there are not counted, or not queued. */
function unreadableAlerts(unseen: Unseen | undefined): Alert[] {
  const alerts: Alert[] = []
  const fix = 'check its permissions (the service and status read every folder) and the disk'
  const { incomplete, watcher } = unseen ?? {}
  if (incomplete)
    alerts.push({
      condition: 'unreadable',
      exit: STATUS_EXIT.unreadable,
      message: `status ${unreadable(incomplete)}: frames there are not counted; ${fix}`
    })
  if (watcher?.live === true && watcher.failing !== undefined)
    alerts.push({
      condition: 'unreadable',
      exit: STATUS_EXIT.unreadable,
      message:
        `the watcher ${unreadable(watcher.failing)} since ${watcher.failing.since}: ` +
        `frames there are not queued; ${fix}`
    })
  return alerts
}

/** Which folder, and why (a Node error's message starts with its code already). */
function unreadable({ folder, code, message }: { folder: string; code: string; message: string }): string {
  return `cannot read the primary's folder ${folder} (${message.startsWith(code) ? message : `${code}: ${message}`})`
}

/** The reconcile's frames below that the copies it queued made whole since. */
function copiedSince(s: ReturnType<ReplicatedStorage['status']>): string {
  return s.copiedSince === undefined ? '' : ` (${s.copiedSince} more at the scan, copied since)`
}

/**
 * The primary's root: one that does not exist (a typo, an unmounted array; `notFrames` 0), or that holds no store but
 * other entries (a mistyped root), is no store to report on, unless `allowEmpty` (a new deployment).
 */
function rootAlerts(root: string | undefined, notFrames: number | undefined, allowEmpty: boolean) {
  if (root === undefined || notFrames === undefined || (notFrames === 0 && allowEmpty)) return []
  const hint = ' (check --root or SAI_IMAGE_STORAGE_PATH)'
  const message =
    notFrames === 0
      ? `the primary's root ${root} does not exist: nothing was ever stored there (a typo? an unmounted array? ` +
        '--allow-empty if this is expected)'
      : notFramesLine(notFrames, hint, `the primary's root ${root}`)
  return [{ condition: 'notAStore' as const, exit: STATUS_EXIT.notAStore, message }]
}

/** The frames lost at the last scan, and those the copier found lost since (no copy was made before the loss). */
function lostWhen({ lost = 0, lostSince = 0 }: ReturnType<ReplicatedStorage['status']>): string {
  const why = 'gone or damaged on the primary before any copy was made'
  if (lostSince === 0) return `${plural(lost, 'frame')} LOST at the last scan (no good copy left)`
  if (lost === 0) return `${plural(lostSince, 'frame')} LOST since the last scan (${why})`
  return `${plural(lost, 'frame')} LOST at the last scan (no good copy left), and ${lostSince} since (${why})`
}
