/** The exit code of each error code: one table for a failed command and for the items of one. */
import type { ErrorCode } from '../core/errors.js'

export const EXIT: Record<ErrorCode, number> = {
  ERR_NOT_FOUND: 1,
  ERR_INVALID_INPUT: 3,
  ERR_INVALID_REF: 3,
  ERR_TOO_LARGE: 3,
  ERR_INTEGRITY: 4,
  ERR_STORAGE_UNAVAILABLE: 5,
  ERR_CONFIG: 6
}
