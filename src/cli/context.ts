/** What every `sai-images` command is given: its parsed flags, output, and the store it works on. */
import type { ParseArgsConfig } from 'node:util'
import { createImageStorage, DRIVERS, type CreateImageStorageOptions } from '../factory.js'
import type { ImageStorage } from '../core/types.js'
import type { JobSummary } from './jobs.js'

export type Flags = Record<string, string | boolean | undefined>

export interface Command {
  name: string
  /** One line: `import <dir> [--mapping F]`. */
  usage: string
  /** One line for the command list. */
  summary: string
  /** What `sai-images help <command>` adds below the usage line. */
  help?: string
  /** Options of this command only; the common ones (--driver, --root, --json, ...) are always there. */
  options?: NonNullable<ParseArgsConfig['options']>
  run: (cli: Context) => Promise<number>
}

/** A mistake in the command line: exit 2 with a short usage line. */
export class UsageError extends Error {}

export class Context {
  constructor (readonly command: Command, readonly flags: Flags, readonly positionals: string[]) {}

  get json (): boolean { return this.flags.json === true }

  /** Human text, or with --json one JSON line. */
  out (human: string, json: unknown): void {
    process.stdout.write(this.json ? JSON.stringify(json) + '\n' : human + '\n')
  }

  /** The store named by --driver / --root, else by the environment. */
  storage (): ImageStorage {
    return this.storageFor(this.string('driver'), this.string('root'))
  }

  storageFor (driver: string | undefined, root?: string): ImageStorage {
    if (driver !== undefined && !(DRIVERS as readonly string[]).includes(driver)) throw new UsageError(`unknown driver ${driver}: expected ${DRIVERS.join(', ')}`)
    return createImageStorage({ ...(driver === undefined ? {} : { driver }), ...(root === undefined ? {} : { root }) } as CreateImageStorageOptions)
  }

  string (name: string): string | undefined {
    const value = this.flags[name]
    return typeof value === 'string' ? value : undefined
  }

  /** Positional argument `index` (0 is the first after the command). */
  arg (index: number, name: string): string {
    const value = this.positionals[index]
    if (value === undefined) throw new UsageError(`missing <${name}>`)
    return value
  }

  concurrency (): number {
    const n = Number(this.flags.concurrency ?? '4')
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError('--concurrency takes a whole number from 1 to 256')
    return n
  }

  /** A progress bar only on a terminal and never with --json. */
  get progress (): boolean {
    return !this.json && process.stderr.isTTY === true
  }

  /** Ctrl-C: the first asks the job to stop cleanly, a second one ends the process. */
  stopSignal (): AbortSignal {
    const controller = new AbortController()
    process.once('SIGINT', () => {
      process.stderr.write('\nstopping: letting work under way finish (Ctrl-C again to quit at once)\n')
      controller.abort()
      process.once('SIGINT', () => process.exit(130))
    })
    process.once('SIGTERM', () => { controller.abort() })
    return controller.signal
  }

  /** The closing lines of a job; its exit code. */
  report (name: string, summary: JobSummary & { bytes?: number }): number {
    const state = summary.interrupted ? `interrupted after ${summary.done} of ${summary.total - summary.skipped}` : 'complete'
    this.out(`${name} ${state}: ${summary.done} done, ${summary.skipped} already done earlier, ${summary.failed.length} failed, of ${summary.total}` +
      (summary.bytes === undefined ? '' : `, ${summary.bytes} bytes`) + `; mapping: ${summary.mapping}` +
      summary.failed.map(f => `\n  ${f.code} ${f.item}: ${f.message}`).join(''), { command: name, ...summary })
    if (summary.interrupted) return 130
    return summary.failed.length > 0 ? 1 : 0
  }
}

/** "1 object", "2 objects"; "1 entry", "2 entries" with the plural given. */
export function plural (n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`
}
