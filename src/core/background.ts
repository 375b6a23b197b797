/**
 * Work that nobody waits on: a close, a temp removal, a write-back. `settle` waits for all of it
 * (`close()` calls it); a failure is told to the logger once, under the task's event name.
 */
import { failureFields, log, type Logger } from './logger.js'

export class Background {
  private readonly running = new Set<Promise<void>>()

  constructor(private readonly logger?: Logger) {}

  /** Runs `work` on, and logs `event` at warn if it fails. */
  add(work: Promise<unknown>, event: string, fields: Record<string, unknown> = {}): void {
    const task: Promise<void> = work
      .then(
        () => {},
        (err: unknown) => {
          log(
            this.logger,
            'warn',
            { event, ...fields, ...failureFields(err) },
            `${event}: ${(err as Error)?.message ?? String(err)}`
          )
        }
      )
      .finally(() => this.running.delete(task))
    this.running.add(task)
  }

  get size(): number {
    return this.running.size
  }

  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running)
  }
}
