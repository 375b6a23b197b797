/**
 * The optional logger for work nobody waits on (temp removals, replication, retries, heals).
 * Nothing is logged unless one is given. Shaped as pino's methods take it: the fields first, with
 * `event` naming what happened (docs/observability.md lists the events), then a message. A failure
 * is logged once, with its `code`. No field ever holds bytes or a credential.
 *
 * @example
 * ```ts
 * createImageStorage({ logger: pino() })
 * createImageStorage({ logger: { warn: (fields, message) => console.warn(message, fields) } })
 * ```
 */
export type LogFields = { event: string; code?: string } & Record<string, unknown>

export interface Logger {
  debug?: (fields: LogFields, message: string) => void
  info?: (fields: LogFields, message: string) => void
  warn?: (fields: LogFields, message: string) => void
  error?: (fields: LogFields, message: string) => void
}

export type LogLevel = keyof Logger

/** Logs `event` at `level` if a logger was given; a logger that throws is not our failure. */
export function log(logger: Logger | undefined, level: LogLevel, fields: LogFields, message: string): void {
  try {
    logger?.[level]?.(fields, message)
  } catch {}
}

/** The fields of a failure: its code (ours, or the OS's) and message. */
export function failureFields(err: unknown): { code: string; error: string } {
  return {
    code: String((err as { code?: unknown })?.code ?? (err as Error)?.name ?? 'error'),
    error: (err as Error)?.message ?? String(err)
  }
}
