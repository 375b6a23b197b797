/**
 * Options and arguments given in code, checked where they are given. From JavaScript or JSON, a NaN, a 0 or a
 * string would lift a limit, stop every call, or fail later far from the mistake (a drain that never copies).
 */
import { ConfigError, InvalidInputError } from './errors.js'

/** A whole number (`of` bytes, ms...) from `min` to `max`, or undefined (the default): else ERR_CONFIG. */
export function checkWhole(option: string, value: unknown, { min = 1, max = Infinity, of = '' } = {}): void {
  if (value === undefined || (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max))
    return
  const what = `a whole number${of && ` of ${of}`}`
  const range = max === Infinity ? `${min} or more` : `from ${min} to ${max}`
  throw ConfigError.forOption(option, `expected ${what}, ${range}, got ${shown(value)}`)
}

/** One of `choices`, or undefined: else ERR_CONFIG naming `option`. */
export function checkChoice(option: string, value: unknown, choices: readonly unknown[]): void {
  if (value !== undefined && !choices.includes(value))
    throw ConfigError.forOption(option, `expected one of ${choices.map(shown).join(', ')}, got ${shown(value)}`)
}

/** A Date that holds a time, or undefined: else ERR_INVALID_INPUT naming `argument` (nothing was written). */
export function checkDate(argument: string, value: unknown): void {
  if (value !== undefined && !(value instanceof Date && Number.isFinite(value.getTime())))
    throw new InvalidInputError(`${argument}: expected a Date that holds a time, got ${shown(value)}`)
}

/** A value as a message may show it: short, a string quoted. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : 'an invalid Date'
  return typeof value === 'object' && value !== null ? 'an object' : String(value)
}

/** A verify's `subset`: a count of 1 or more, an index below it (else every object was skipped, and "clean"). */
export function checkSubset(subset: { index: number; count: number } | undefined): void {
  if (subset === undefined) return
  checkWhole('subset.count', subset.count)
  checkWhole('subset.index', subset.index, { min: 0, max: subset.count - 1 })
}

/** A listing's `prefix`, lower-cased: hex digits (a ref's case is either), else ERR_INVALID_INPUT. */
export function listPrefix(prefix: unknown): string | undefined {
  if (prefix === undefined) return undefined
  if (typeof prefix !== 'string' || !/^[0-9a-fA-F]{0,64}$/.test(prefix))
    throw new InvalidInputError(`list prefix: expected up to 64 hex digits of a SHA-256, got ${shown(prefix)}`)
  return prefix.toLowerCase()
}
