/**
 * sai-images: check, repair, back-fill and move the store without writing code. Configured by the
 * same SAI_IMAGE_STORAGE_* / SAI_S3_* / SAI_IPFS_* environment as the library, and by flags.
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ImageStorageError, type ErrorCode } from '../core/errors.js'
import { COMMANDS } from './commands/index.js'
import { Context, UsageError, type Command, type Flags } from './context.js'

// the AWS SDK is pinned to releases that support Node 20 (see the README): its notice that later
// releases will not is for developers, not for every operator's command
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  driver: { type: 'string' },
  root: { type: 'string' },
  concurrency: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false }
}

const COMMON_HELP = `Options for every command:
  --driver fs|s3|ipfs|memory   default: SAI_IMAGE_STORAGE_DRIVER, or fs
  --root DIR                   the filesystem store (default: SAI_IMAGE_STORAGE_PATH, or ./data/images)
  --concurrency N              for commands over many objects; default 4
  --json                       machine-readable output
  --verbose                    the full error, with its cause, on failure
  -h, --help                   help; 'sai-images help <command>' for one command
  -V, --version`

const EXIT_HELP = `Exit codes: 0 done, 1 not found / not clean / some items failed, 2 usage, 3 bad input or ref,
4 integrity, 5 storage unavailable, 6 configuration, 70 a bug in sai-images (please report it), 130 interrupted.`

const EXIT: Record<ErrorCode, number> = {
  ERR_NOT_FOUND: 1,
  ERR_INVALID_INPUT: 3,
  ERR_INVALID_REF: 3,
  ERR_TOO_LARGE: 3,
  ERR_INTEGRITY: 4,
  ERR_STORAGE_UNAVAILABLE: 5,
  ERR_CONFIG: 6
}

function usage (): string {
  const width = Math.max(...COMMANDS.map(c => c.usage.length)) + 2
  return `Usage: sai-images <command> [options]\n\nCommands:\n${COMMANDS.map(c => `  ${c.usage.padEnd(width)} ${c.summary}`).join('\n')}\n\n${COMMON_HELP}\n\n${EXIT_HELP}`
}

function commandHelp (command: Command): string {
  return `Usage: sai-images ${command.usage}\n\n${command.summary}${command.help === undefined ? '' : `\n\n${command.help}`}\n\n${COMMON_HELP}\n\n${EXIT_HELP}`
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Every command's options at once, so that the command can be found wherever it stands. */
function parse (argv: string[]): { flags: Flags, positionals: string[], given: string[] } {
  const options = { ...COMMON }
  for (const command of COMMANDS) Object.assign(options, command.options)
  const { values, positionals, tokens } = parseArgs({ args: argv, options, allowPositionals: true, tokens: true })
  const given = tokens.flatMap(t => t.kind === 'option' ? [t.name] : [])
  return { flags: values as Flags, positionals, given }
}

async function main (argv: string[]): Promise<number> {
  const { flags, positionals, given } = parse(argv)
  if (flags.version === true) {
    process.stdout.write(version() + '\n')
    return 0
  }
  let [name, ...rest] = positionals
  if (name === 'help') {
    [name, ...rest] = rest
    flags.help = true
  }
  if (name === undefined) {
    process.stdout.write(usage() + '\n')
    if (flags.help === true) return 0
    throw new UsageError('missing <command>')
  }
  const command = COMMANDS.find(c => c.name === name)
  if (command === undefined) throw new UsageError(`unknown command ${name}`)
  if (flags.help === true) {
    process.stdout.write(commandHelp(command) + '\n')
    return 0
  }
  const foreign = given.find(option => !(option in COMMON) && !(option in (command.options ?? {})))
  if (foreign !== undefined) throw new UsageError(`${name} takes no --${foreign}`, { cause: command })
  return await command.run(new Context(command, flags, rest))
}

const argv = process.argv.slice(2)
const verbose = argv.includes('--verbose')
const json = argv.includes('--json')

// a reader that went away (`sai-images fetch ref | head -c 10`) is not an error
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

main(argv).then(code => { process.exitCode = code }, (err: unknown) => {
  const fail = (code: number, message: string, detail?: unknown): void => {
    process.stderr.write(`sai-images: ${message}\n`)
    if (verbose && detail !== undefined) process.stderr.write(`${(detail as Error)?.stack ?? String(detail)}\n`)
    process.exitCode = code
  }
  if (err instanceof UsageError || (err as NodeJS.ErrnoException)?.code?.startsWith('ERR_PARSE_ARGS') === true) {
    const command = COMMANDS.find(c => c.name === argv.find(a => !a.startsWith('-')))
    fail(2, `${(err as Error).message}\nUsage: sai-images ${command?.usage ?? '<command> [options]'} (sai-images help${command === undefined ? '' : ` ${command.name}`} for more)`)
  } else if (err instanceof ImageStorageError) {
    if (json) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    fail(EXIT[err.code], `${err.code}: ${err.message}`, err)
  } else if ((err as Error)?.name === 'AbortError') {
    process.exitCode = 130
  } else {
    fail(70, `internal error (a bug in sai-images, please report it): ${(err as Error)?.message ?? String(err)}${verbose ? '' : ' (--verbose shows the stack)'}`, err)
  }
})
