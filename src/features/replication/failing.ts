/**
 * A replica's failing state: its backoff (1 s, doubling, at most 5 min) in this process, and for
 * `status` in others `failing/<replica>.json` (layout.ts). The `since` of a state on disk is kept:
 * a service restarted during an outage still says since when the replica has failed, so that an
 * alert on "failing for 15 minutes" is not reset by the restart.
 */
import { rmSync } from 'node:fs'
import { failureFields, log, type Logger } from '../../core/logger.js'
import type { StateLayout } from './layout.js'
import { readRecord, writeRecordSync } from './records.js'

const MAX_BACKOFF_MS = 5 * 60_000

interface State {
  until: number
  delay: number
  code: string
  since: number
}

export class ReplicaBackoff {
  private readonly states = new Map<string, State>()

  constructor(private readonly options: { layout: StateLayout; logger?: Logger }) {}

  /** Whether `name` waits out its backoff now. */
  waiting(name: string): boolean {
    const state = this.states.get(name)
    return state !== undefined && Date.now() < state.until
  }

  /** The earliest time (ms from now) a replica in backoff may be tried again; Infinity if none is. */
  nextTryInMs(): number {
    return Math.min(...[...this.states.values()].map(b => b.until - Date.now()))
  }

  /** When a replica started failing, and how (for status). */
  since(name: string): { since: Date; code: string } | undefined {
    const state = this.states.get(name)
    return state === undefined ? undefined : { since: new Date(state.since), code: state.code }
  }

  /** The replica could not be used this round: backed off (longer each time), and recorded. */
  failed(name: string, err: unknown): void {
    const previous = this.states.get(name)
    const delay = Math.min(MAX_BACKOFF_MS, (previous?.delay ?? 500) * 2)
    const { code } = failureFields(err)
    const since = previous?.since ?? this.sinceOnDisk(name) ?? Date.now()
    this.states.set(name, { until: Date.now() + delay, delay, code, since })
    writeRecordSync(this.options.layout.failing(name), { since: new Date(since), code, retryInMs: delay })
    if (previous === undefined)
      log(
        this.options.logger,
        'warn',
        { event: 'replication.replica-unavailable', replica: name, ...failureFields(err) },
        `replica ${name} unavailable: ${(err as Error).message}; retrying with backoff`
      )
  }

  /** A round without failure: the failing state is cleared, another process's too once a copy went through. */
  recovered(name: string, copied: boolean): void {
    if (!this.states.delete(name)) {
      if (copied) rmSync(this.options.layout.failing(name), { force: true })
      return
    }
    rmSync(this.options.layout.failing(name), { force: true })
    log(
      this.options.logger,
      'info',
      { event: 'replication.replica-recovered', replica: name },
      `replica ${name} reachable again`
    )
  }

  /** The `since` another process (or this one before a restart) recorded, if a state is on disk. */
  private sinceOnDisk(name: string): number | undefined {
    const since = Date.parse(readRecord<{ since?: string }>(this.options.layout.failing(name))?.since ?? '')
    return Number.isFinite(since) && since <= Date.now() ? since : undefined
  }
}
