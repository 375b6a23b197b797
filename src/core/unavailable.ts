/** A service (S3, an IPFS node, PostgreSQL) that did not answer as it should: one error shape, no secret in it. */
import { StorageUnavailableError } from './errors.js'
import { aboutOption, type Naming, optionName, type Wording } from './option-names.js'

/**
 * A service (an S3 endpoint, an IPFS node, a database) that failed, said one way everywhere:
 * `{service} unavailable at {where} ({operation}): {why}. {advice}`; the cause keeps only the
 * name and message, with every secret removed (SDK errors carry requests and headers). With
 * `option`, `why` and `advice` may name options (a `Wording`): the error is about that option.
 */
export function serviceUnavailable(
  err: unknown,
  context: {
    service: string
    where: string
    operation?: string
    why: string | Wording
    advice?: string | Wording
    secrets?: string[]
    option?: string
  }
): StorageUnavailableError {
  const hide = (text: string): string => redact(text, context.secrets)
  const error = err as Error
  const cause = err instanceof Error ? new Error(hide(`${error.name}: ${error.message}`)) : undefined
  const operation = context.operation === undefined ? '' : ` (${context.operation})`
  const said = (text: string | Wording | undefined, name: Naming): string | undefined =>
    typeof text === 'function' ? text(name) : text
  const wording: Wording = name => {
    const advice = said(context.advice, name)
    return (
      hide(`${context.service} unavailable at ${context.where}${operation}: ${said(context.why, name)}`) +
      (advice === undefined ? '' : hide(`. ${advice}`))
    )
  }
  const make = (message: string): StorageUnavailableError =>
    new StorageUnavailableError(message, context.where, { cause })
  return context.option === undefined ? make(wording(optionName)) : aboutOption(context.option, wording, make)
}

/** `text` with every secret in it replaced by `[redacted]`; before any cut, so that no part of one shows. */
export function redact(text: string, secrets: string[] = []): string {
  // (a secret of a few characters would be cut out of every word: no real credential is that short)
  return secrets.filter(s => s.length >= 4).reduce((t, secret) => t.split(secret).join('[redacted]'), text)
}
