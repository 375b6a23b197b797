/** What the parser and the help know at start; the work (commands/status.ts) loads when the command runs. */
import type { Command } from '../context.js'

/** `status` exit codes, one per condition, for monitors: docs/cli.md. When several hold, `exitOf` picks. */
export const STATUS_EXIT = {
  backlog: 10,
  unreachable: 11,
  belowWanted: 12,
  lost: 13,
  unreadable: 14,
  notAStore: 15,
  staleScan: 16
} as const

export const status: Command = {
  name: 'status',
  usage: 'status [--max-backlog-age 1h] [--max-scan-age 2d] [--allow-empty]',
  summary: 'replication: the backlog, the last scan, heals; exit 0 only if all is well',
  help:
    'Exit 0 only when every replica is reachable, nothing in the backlog (nor a frame of another\n' +
    'writer not queued yet) is older than --max-backlog-age (default 1h; units s, min, h, d), and\n' +
    "the last whole scan (replicate's reconcile or verify) found no frame below its wanted copies\n" +
    '(or the copies it queued were made since) and none lost, and is younger than --max-scan-age\n' +
    '(default 2d; a scan that keeps failing would leave its counts, and a loss since, unheard).\n' +
    `Otherwise (${STATUS_EXIT.lost} first when a frame is lost, else the highest):\n` +
    `${STATUS_EXIT.backlog} backlog too old, ${STATUS_EXIT.unreachable} a replica unreachable, ` +
    `${STATUS_EXIT.belowWanted} frames below the wanted copies, ${STATUS_EXIT.lost} frames lost,\n` +
    `${STATUS_EXIT.unreadable} a folder of the primary unreadable (by status, or by the watcher),\n` +
    `${STATUS_EXIT.notAStore} the primary's root does not exist (unless --allow-empty: a new deployment),\n` +
    'or holds no store but other entries (a mistyped root?),\n' +
    `${STATUS_EXIT.staleScan} the last whole scan older than --max-scan-age.`,
  options: {
    'max-backlog-age': { type: 'string' },
    'max-scan-age': { type: 'string' },
    'allow-empty': { type: 'boolean' }
  },
  run: async cli => await (await import('../commands/index.js')).status(cli)
}
