/**
 * How an error names the options it is about. A driver says an option as code gives it (`the root
 * option`) and the error keeps its message with the options marked; the factory and the CLI, which
 * know whether the value came from code, a variable or a flag, say it again (`renameOptions`, called
 * from features/factory/settings.ts only).
 *
 * @example
 * ```ts
 * const err = aboutOption('root', name => `set ${name('root')}`, message => new StorageUnavailableError(message, root))
 * renameOptions(err, { root: 'SAI_IMAGE_STORAGE_PATH' }) // err.message: 'set SAI_IMAGE_STORAGE_PATH'
 * ```
 */
import type { ImageStorageError } from './errors.js'

/** Names an option in a message: `the root option` (a driver's word), or a variable or a flag. */
export type Naming = (option: string) => string
/** A message that names options, said with any naming. */
export type Wording = (name: Naming) => string

/** How a driver names an option: as a library's user gives it, in code. */
export function optionName(option: string): string {
  return `the ${option} option`
}

// A message is kept with its options marked, to be said again with other names; the marks never
// reach a message (every message is said through `say`). Kept apart from the error: nothing an
// inspect or a JSON shows, and no secret (a service's message is redacted before it is kept).
const MARK = '\uE000' // a private-use character: in no message of ours, nor in an option's name
const TEMPLATES = new WeakMap<object, string>()
// the template alternates text and marked options: `text MARK option MARK text`
const say = (template: string, name: Naming): string =>
  template
    .split(MARK)
    .map((part, i) => (i % 2 === 1 ? name(part) : part))
    .join('')

/**
 * An error about `option` (its `option`), whose message names options as code gives them (`the root
 * option`); `renameOptions` says it again with the names of the variables or flags they came from.
 */
export function aboutOption<E extends ImageStorageError>(
  option: string,
  wording: Wording,
  make: (message: string) => E
): E {
  const template = wording(o => `${MARK}${o}${MARK}`)
  const error = make(say(template, optionName))
  TEMPLATES.set(error, template)
  return Object.assign(error, { option, setting: optionName(option) })
}

/**
 * `err` named again, in place (its class, code, cause and stack kept): each option its message names
 * as `names` say (an option they leave out as code gives it), and `setting` with it. Any other error as it is.
 * The factory and the CLI call it (features/factory/settings.ts), which know where each value came from.
 */
export function renameOptions(err: unknown, names: Partial<Record<string, string>>): unknown {
  const template = typeof err === 'object' && err !== null ? TEMPLATES.get(err) : undefined
  if (template === undefined) return err
  const error = err as ImageStorageError
  const name: Naming = option => names[option] ?? optionName(option)
  const before = error.message
  error.message = say(template, name)
  if (error.stack?.includes(before) === true) error.stack = error.stack.replace(before, error.message)
  return Object.assign(error, { setting: name(error.option!) })
}
