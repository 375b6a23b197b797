/**
 * sai-images: check, repair, back-fill, replicate and move the store without writing code.
 * Configured by the same SAI_IMAGE_STORAGE_* / SAI_S3_* / SAI_IPFS_* environment as the library,
 * and by flags. With --json, every outcome (usage errors too) is one JSON object on the answer
 * stream: stdout, or stderr when stdout carries an image's bytes (docs/cli.md lists the shapes).
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ImageStorageError } from '../core/errors.js'
import { COMMANDS } from './specs/index.js'
import { answerStream, Context, UsageError, type Command, type Flags } from './context.js'
import { EXIT } from './exit-codes.js'
import { commandHelp, overview, usageLines } from './help.js'
import { traceToStderr } from './verbose.js'

// the AWS SDK is pinned to releases that support Node 20 (see docs/drivers/s3.md): its notice that
// later releases will not is for developers, not for every operator's command
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  driver: { type: 'string' },
  root: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' }
}

interface Parsed {
  command?: Command
  name?: string
  flags: Flags
  positionals: string[]
  tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>
  /** Asked as `sai-images help <command>`: a word after the topic is a mistake. */
  helpWord?: boolean
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/**
 * The command and its flags, read leniently: every command's options are known at once, so that
 * the command is found wherever it stands, and `--json` is known before anything can fail.
 */
function read(argv: string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = { ...COMMON }
  for (const command of COMMANDS) Object.assign(options, command.options)
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options,
    allowPositionals: true,
    tokens: true,
    strict: false
  })
  let [name, ...rest] = positionals
  const flags = values as Flags
  const helpWord = name === 'help'
  if (helpWord) {
    ;[name, ...rest] = rest
    flags.help = true
  }
  return { command: COMMANDS.find(c => c.name === name), name, flags, positionals: rest, tokens, helpWord }
}

/** Each flag checked against the command's own: a wrong one gets our message (not Node's). */
function check({ command, tokens }: Parsed): void {
  const known = { ...COMMON, ...command?.options }
  const given = new Map<string, string>()
  for (const token of tokens) {
    if (token.kind !== 'option') continue
    const option = known[token.name]
    const flag = token.rawName
    if (option === undefined)
      throw new UsageError(`${command === undefined ? 'sai-images' : command.name} takes no ${flag}`)
    if (option.type === 'string' && token.value === undefined) throw new UsageError(`${flag} needs a value`)
    // an unset variable (`--root "$ROOT"`) is no value: an empty root would be the working folder
    if (option.type === 'string' && token.value === '') throw new UsageError(`${flag} needs a value, not an empty one`)
    // the last of two would win silently: `--older-than 5m --older-than 1d`
    const before = given.get(token.name)
    if (option.type === 'string' && option.multiple !== true && before !== undefined)
      throw new UsageError(`--${token.name} is given twice (${before}, then ${token.value}): give it once`)
    given.set(token.name, token.value ?? '')
    // `--root --json` is a forgotten value, not a root named --json (a value may start with - as --root=-x)
    if (option.type === 'string' && token.inlineValue === false && /^-./.test(token.value ?? ''))
      throw new UsageError(`${flag} needs a value: ${token.value} is an option (or write ${flag}=${token.value})`)
    if (option.type === 'boolean' && token.value !== undefined) throw new UsageError(`${flag} takes no value`)
  }
}

/** Every operand is taken or the command is refused before it does anything: none is silently ignored. */
function checkOperands(command: Command, positionals: string[]): void {
  const most = command.operands ?? 0
  if (positionals.length <= most) return
  const extra = positionals.slice(most).join(' ')
  throw new UsageError(
    most === 0
      ? `${command.name} takes no operands, not ${extra}`
      : `${command.name} takes ${most === 1 ? 'one operand' : `at most ${most} operands`}: ${extra} would be left out` +
          (command.operandsNote === undefined ? '' : ` (${command.operandsNote})`)
  )
}

/** Help and version are answers too: with --json, one object. */
function print(text: string, json: object, flags: Flags): number {
  process.stdout.write(flags.json === true ? JSON.stringify(json) + '\n' : text + '\n')
  return 0
}

async function main(parsed: Parsed): Promise<number> {
  check(parsed)
  const { command, name, flags, positionals } = parsed
  if (flags.version === true) return print(version(), { version: version() }, flags)
  if (name === undefined) {
    if (flags.help !== true) throw new UsageError('missing <command>')
    return print(overview(COMMANDS), { help: overview(COMMANDS), commands: COMMANDS.map(c => c.name) }, flags)
  }
  if (command === undefined) throw new UsageError(`unknown command ${name}`)
  if (parsed.helpWord === true && positionals.length > 0)
    throw new UsageError(`help takes one command: ${positionals.join(' ')} would be left out`)
  if (flags.help === true)
    return print(commandHelp(command), { help: commandHelp(command), usage: usageLines(command, '') }, flags)
  checkOperands(command, positionals)
  if (flags.verbose === true) traceToStderr()
  const cli = new Context(command, flags, positionals)
  try {
    return await command.run(cli)
  } finally {
    await cli.finish()
  }
}

const argv = process.argv.slice(2)
let parsed: Parsed
try {
  parsed = read(argv)
} catch {
  parsed = {
    flags: { json: argv.includes('--json'), verbose: argv.includes('--verbose') },
    positionals: [],
    tokens: []
  }
}
// asked for even where a mistake swallowed it (`--root --json`): before `--`, the words themselves
const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv
const json = parsed.flags.json === true || options.includes('--json')
const verbose = parsed.flags.verbose === true || options.includes('--verbose')
const answer = answerStream(parsed.command, parsed.flags)

// a reader that went away (`sai-images fetch ref | head -c 10`) is not an error
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

main(parsed).then(
  code => {
    process.exitCode = code
  },
  (err: unknown) => {
    const fail = (
      code: number,
      errorCode: string,
      message: string,
      detail?: unknown,
      extra: { usage?: string } = {}
    ): void => {
      if (json) answer.write(JSON.stringify({ error: { code: errorCode, message, ...extra } }) + '\n')
      // the text for a person, on stderr; unless stderr is the answer already (fetch to stdout)
      if (!json || answer !== process.stderr) {
        const usage = extra.usage === undefined ? '' : `\n${usageLines(parsed.command)}`
        process.stderr.write(`sai-images: ${errorCode === 'ERR_USAGE' ? '' : `${errorCode}: `}${message}${usage}\n`)
      }
      if (verbose && detail !== undefined) process.stderr.write(`${(detail as Error)?.stack ?? String(detail)}\n`)
      process.exitCode = code
    }
    if (err instanceof UsageError) {
      const more = `(see sai-images help${parsed.command === undefined ? '' : ` ${parsed.command.name}`})`
      fail(2, 'ERR_USAGE', `${err.message} ${more}`, undefined, {
        usage: usageLines(parsed.command, '').replace(/\n\s+/g, ' ')
      })
    } else if (err instanceof ImageStorageError) {
      fail(EXIT[err.code], err.code, err.message, err)
    } else if ((err as Error)?.name === 'AbortError') {
      fail(130, 'ABORT_ERR', 'interrupted')
    } else {
      fail(
        70,
        'ERR_INTERNAL',
        `internal error (a bug in sai-images, please report it): ${(err as Error)?.message ?? String(err)}` +
          (verbose ? '' : ' (--verbose shows the stack)'),
        err
      )
    }
  }
)
