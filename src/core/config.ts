/**
 * Environment variables, each validated: a malformed value is `ERR_CONFIG` naming the variable,
 * never a silent default.
 */
import { ConfigError } from './errors.js'

export type Env = Record<string, string | undefined>

/** The value of `name`, or undefined when unset or empty. */
export function readString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

export function readChoice<T extends string>(env: Env, name: string, choices: readonly T[]): T | undefined {
  const value = readString(env, name)
  if (value === undefined) return undefined
  if (!(choices as readonly string[]).includes(value))
    throw new ConfigError(name, `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
  return value as T
}

export function readBoolean(env: Env, name: string): boolean | undefined {
  const value = readString(env, name)?.toLowerCase()
  if (value === undefined) return undefined
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(value)}`)
}

export function readInteger(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = readString(env, name)
  if (value === undefined) return undefined
  const number = /^\d+$/.test(value) ? Number(value) : NaN
  if (!(number >= min && number <= max))
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return number
}

/** A file mode in octal, as chmod takes it: `664`, `0664`, `02775`, `0o2775`. */
export function readMode(env: Env, name: string): number | undefined {
  const value = readString(env, name)
  if (value === undefined) return undefined
  const digits = value.replace(/^0o/i, '')
  if (!/^[0-7]{3,4}$|^0[0-7]{4}$/.test(digits))
    throw new ConfigError(name, `expected an octal mode such as 0664 or 02775, got ${JSON.stringify(value)}`)
  return parseInt(digits, 8)
}

/** `SAI_IPFS_AUTH`: an Authorization value (`Bearer …`, `Basic …`) or `user:password`. Never echoed. */
export function readAuth(env: Env, name: string): string | undefined {
  const value = readString(env, name)
  if (value === undefined || /^(Basic|Bearer) \S+$/.test(value) || /^[^:\s]+:\S+$/.test(value)) return value
  throw new ConfigError(name, 'expected "Bearer <token>", "Basic <base64>" or "user:password" (the value is not shown)')
}

/** The settings that were given: unset ones are left out, so that defaults apply. */
export function defined<T extends object>(settings: T): Partial<T> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<T>
}

/** An http(s) URL, for the IPFS settings. */
export function readUrl(env: Env, name: string): URL | undefined {
  const value = readString(env, name)
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, 'expected an http or https URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(name, 'expected an http or https URL')
  return url
}
