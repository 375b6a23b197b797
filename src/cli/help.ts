/** What `sai-images help` prints, in lines of at most 100 columns (a test runs every command's help). */
import type { Command } from './context.js'
import { STATUS_EXIT } from './specs/status.js'

export const WIDTH = 100

const COMMON_HELP = `Options for every command:
  --driver fs|s3|ipfs|memory   default: SAI_IMAGE_STORAGE_DRIVER, or fs
  --root DIR                   the filesystem store (default: SAI_IMAGE_STORAGE_PATH, ./data/images)
  --json                       one JSON object on stdout for every outcome (list: one per line)
  --verbose                    each operation as it runs, with its time; the full error on failure
  -h, --help                   help; 'sai-images help <command>' for one command
  -V, --version`

/** Only for the commands over many objects, which take it. */
const CONCURRENCY_HELP = '  --concurrency N              objects at once; default 4'

const EXIT_HELP = `Exit codes: 0 done, 1 not found / not clean / some items failed, 2 usage, 3 bad input or ref,
4 integrity, 5 storage unavailable, 6 configuration, ${STATUS_EXIT.backlog}-${Math.max(...Object.values(STATUS_EXIT))} status alerts, 70 a bug (please report
it), 75 replicate's lock busy, 130 interrupted.`

/** The usage of `sai-images <command>`, wrapped at the top-level spaces, never inside `[...]`. */
export function usageLines(command: Command | undefined, lead = 'Usage: '): string {
  const head = `${lead}sai-images `
  const words = splitTopLevel(command?.usage ?? '<command> [options]')
  const indent = ' '.repeat(head.length + (words.length > 1 ? words[0]!.length + 1 : 0))
  const lines = [head + words[0]!]
  for (const word of words.slice(1)) {
    const last = lines[lines.length - 1]!
    if (last.length + 1 + word.length <= WIDTH) lines[lines.length - 1] = `${last} ${word}`
    else lines.push(indent + word)
  }
  return lines.join('\n')
}

/** `a [b c] [d [e]]` as `a`, `[b c]`, `[d [e]]`. */
function splitTopLevel(text: string): string[] {
  const words: string[] = []
  let depth = 0
  let word = ''
  for (const char of text) {
    if (char === '[') depth++
    if (char === ']') depth--
    if (char === ' ' && depth === 0) {
      if (word !== '') words.push(word)
      word = ''
    } else word += char
  }
  if (word !== '') words.push(word)
  return words
}

export function overview(commands: Command[]): string {
  const rows = commands.map(c => `  ${c.name.padEnd(16)} ${c.summary}`)
  const many = commands.filter(c => c.options?.concurrency !== undefined).map(c => c.name)
  const concurrency = `${CONCURRENCY_HELP}, for:\n${' '.repeat(31)}${many.join(', ')}`
  return `${usageLines(undefined)}\n\nCommands:\n${rows.join('\n')}\n\n${COMMON_HELP}\n${concurrency}\n\n${EXIT_HELP}`
}

export function commandHelp(command: Command): string {
  const help = command.help === undefined ? '' : `\n\n${command.help}`
  const many = command.options?.concurrency === undefined ? '' : `\n${CONCURRENCY_HELP}`
  return `${usageLines(command)}\n\n${command.summary}${help}\n\n${COMMON_HELP}${many}\n\n${EXIT_HELP}`
}
