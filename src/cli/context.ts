/** What every `sai-images` command is given: its parsed flags, its output, and the store it works on. */
import { existsSync } from 'node:fs'
import type { ParseArgsConfig } from 'node:util'
import type { CreateImageStorageOptions, FactoryOptions } from '../features/factory/index.js'
import { flagNames } from '../features/factory/settings.js'
import { ConfigError } from '../core/errors.js'
import type { ImageStorage } from '../core/types.js'
import { withRefPrefixes } from './refs.js'
import { stderrLogger } from './verbose.js'

export type Flags = Record<string, string | boolean | string[] | undefined>

export interface Command {
  name: string
  /** `import <dir> [--mapping F]`: help wraps it at 100 columns between its `[...]` groups. */
  usage: string
  /** One line for the command list (at most 60 columns: the list fits in 100). */
  summary: string
  /** What `sai-images help <command>` adds below the usage line (lines of at most 100 columns). */
  help?: string
  /** How many operands (positionals) it takes at most: default 0; more are refused, never ignored. */
  operands?: number
  /** Said when there are too many: what to do instead. */
  operandsNote?: string
  /** Options of this command only; the common ones (--driver, --root, --json, ...) are always there. */
  options?: NonNullable<ParseArgsConfig['options']>
  /** True when this run writes data (an image's bytes) to stdout: its answer and errors then go to stderr. */
  writesBytesToStdout?: (flags: Flags) => boolean
  run: (cli: Context) => Promise<number>
}

/** Where a run's answer (its summary, its --json object, its error) goes: stdout, unless stdout carries the bytes. */
export function answerStream(command: Command | undefined, flags: Flags): NodeJS.WriteStream {
  return command?.writesBytesToStdout?.(flags) === true ? process.stderr : process.stdout
}

/** A mistake in the command line: exit 2 with a short usage line. */
export class UsageError extends Error {}

export class Context {
  private readonly opened: ImageStorage[] = []

  constructor(
    readonly command: Command,
    readonly flags: Flags,
    readonly positionals: string[]
  ) {}

  get json(): boolean {
    return this.flags.json === true
  }

  /** Human text, or with --json one JSON object: the command's whole answer (see `answerStream`). */
  out(human: string, json: object): void {
    answerStream(this.command, this.flags).write(this.json ? JSON.stringify(json) + '\n' : human + '\n')
  }

  /** A line for the operator on stderr (never with --json, whose stdout is the answer). */
  note(text: string): void {
    if (!this.json) process.stderr.write(text + '\n')
  }

  /** The store named by --driver / --root, else by the environment (replicas too: SAI_IMAGE_STORAGE_REPLICAS). */
  async storage(): Promise<ImageStorage> {
    // refs may be a unique prefix of 4+ hex digits here, as in git (refs.ts)
    return withRefPrefixes(await this.storageFor(this.string('driver'), this.string('root'), true))
  }

  /**
   * The store a command writes frames into (`store`, `import`): never the memory driver, whose objects
   * vanish when the command exits, so that "stored" or "done" (and a mapping's records) would be false.
   */
  async storageToWrite(): Promise<ImageStorage> {
    const storage = await this.storage()
    if (((storage as { primary?: ImageStorage }).primary ?? storage).driver !== 'memory') return storage
    const reason = `keeps nothing: its frames would vanish when ${this.command.name} exits (use fs, s3 or ipfs)`
    if (this.string('driver') !== undefined) throw new UsageError(`--driver memory ${reason}`)
    throw new ConfigError('SAI_IMAGE_STORAGE_DRIVER', `memory ${reason}`)
  }

  /**
   * A store of its own (no replicas unless `withReplicas`): a migration's source or target. `flags`:
   * the flags that gave the driver and the root, for messages (`--from`, `--to-root`). Loads the
   * factory with the commands' work (commands/index.ts).
   */
  async storageFor(
    driver: string | undefined,
    root?: string,
    withReplicas = false,
    flags: { driver: string; root: string } = { driver: '--driver', root: '--root' }
  ): Promise<ImageStorage> {
    // the factory and its drivers are in the commands' chunk, loaded by now (specs/index.ts)
    const { createImageStorage, DRIVERS } = await import('./commands/index.js')
    if (driver !== undefined && !(DRIVERS as readonly string[]).includes(driver))
      throw new UsageError(`unknown driver ${driver}: expected ${DRIVERS.join(', ')}`)
    const named = driver ?? (process.env.SAI_IMAGE_STORAGE_DRIVER?.trim() || 'fs')
    if (root !== undefined && named !== 'fs')
      throw new UsageError(`${flags.root} is an fs store's; the driver is ${named}`)
    // messages name the flags the operator gave (features/factory/settings.ts)
    const settingNames = flagNames({
      driver: driver === undefined ? undefined : flags.driver,
      root: root === undefined ? undefined : flags.root,
      allowNonImage: this.flags['allow-non-image'] === true
    })
    const options = {
      // a replicated store's drain: as many copies at once as the command was given (replicate)
      ...(withReplicas && this.command.options?.concurrency !== undefined
        ? { copyConcurrency: this.concurrency() }
        : {}),
      ...(driver === undefined ? {} : { driver }),
      ...(root === undefined ? {} : { root }),
      ...(this.flags['allow-non-image'] === true ? { allowNonImage: true } : {}),
      // (not where stderr carries the answer: `fetch` to standard output, whose --json object is alone there)
      ...(answerStream(this.command, this.flags) === process.stderr ? {} : { logger: stderrLogger }),
      settingNames
    } as CreateImageStorageOptions & FactoryOptions
    const storage = createImageStorage(withReplicas ? options : { ...options, replicas: false })
    const local = storage.root
    if (local !== undefined && !existsSync(local) && process.stderr.isTTY === true) this.rootWatch.push(local)
    this.opened.push(storage)
    return storage
  }

  /** Roots that did not exist when the command opened them: told, on a terminal, if it made them. */
  readonly rootWatch: string[] = []

  /** Closes what the command opened, and says on a terminal which root it created. */
  async finish(): Promise<void> {
    await Promise.all(this.opened.map(async storage => await storage.close()))
    for (const root of this.rootWatch)
      if (existsSync(root))
        this.note(`sai-images: created the store's root ${root} (set SAI_IMAGE_STORAGE_PATH or --root to use another)`)
  }

  string(name: string): string | undefined {
    const value = this.flags[name]
    return typeof value === 'string' ? value : undefined
  }

  strings(name: string): string[] {
    const value = this.flags[name]
    return Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
  }

  /** Positional argument `index` (0 is the first after the command). */
  arg(index: number, name: string): string {
    const value = this.positionals[index]
    if (value === undefined) throw new UsageError(`missing <${name}>`)
    return value
  }

  /** Every positional, at least one: the operands of a command that takes several. */
  operands(name: string): string[] {
    if (this.positionals.length === 0) throw new UsageError(`missing <${name}>`)
    return this.positionals
  }

  concurrency(): number {
    const n = wholeNumber(this.string('concurrency') ?? '4')
    if (!Number.isInteger(n) || n < 1 || n > 256)
      throw new UsageError('--concurrency takes a whole number from 1 to 256')
    return n
  }

  /** A progress bar only on a terminal and never with --json. */
  get progress(): boolean {
    return !this.json && process.stderr.isTTY === true
  }

  /** Ctrl-C: the first asks the job to stop cleanly, a second one ends the process. */
  stopSignal(): AbortSignal {
    const controller = new AbortController()
    process.once('SIGINT', () => {
      process.stderr.write('\nstopping: letting work under way finish (Ctrl-C again to quit at once)\n')
      controller.abort()
      process.once('SIGINT', () => process.exit(130))
    })
    process.once('SIGTERM', () => {
      controller.abort()
    })
    return controller.signal
  }
}

/** A whole number written in digits only: `1e3`, `0x10`, `1.0`, `10abc` are NaN (Number() takes the first three). */
export function wholeNumber(text: string): number {
  return /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN
}

/** "1 object", "2 objects"; "1 entry", "2 entries" with the plural given. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`
}

/** The line every summary ends with: where the store is (an absolute root, a bucket, a node). */
export function storeLine(storage: ImageStorage): string {
  return `store: ${storage.location ?? storage.driver}`
}

/** What `verify` and `stats` say of a root that does not exist (an error unless --allow-empty). */
export function missingRootLine(cli: Context): string {
  const hint =
    cli.flags['allow-empty'] === true ? '' : ' (a typo? an unmounted array? --allow-empty if this is expected)'
  return `the root does not exist: nothing was ever stored there${hint}`
}
