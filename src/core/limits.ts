import type { InputLimits } from './input.js'
import type { StoreOptions } from './types.js'

/** The inference service's upload limit. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024

export interface LimitsInit {
  /** Default 50 MiB. */
  maxBytes?: number
  /** Default false: input that is not a recognised image is `ERR_INVALID_INPUT`. */
  allowNonImage?: boolean
  /**
   * @deprecated Since 0.2, and ignored: an error names the option (`error.option`, `the root option`),
   * and `createImageStorage` names the variable or flag it came from. Removed in the next minor.
   */
  settingNames?: Partial<Record<string, string>>
}

/**
 * A driver's limits, overridden per call by `store` options. A limit set per call is named as such
 * in messages (`the store option maxBytes`); one of the driver's is an option the factory may name again.
 */
export function resolveLimits(init: LimitsInit, options: StoreOptions = {}): InputLimits {
  const perCall = (option: 'maxBytes' | 'allowNonImage'): string | undefined =>
    options[option] !== undefined ? `the store option ${option}` : undefined
  return {
    maxBytes: options.maxBytes ?? init.maxBytes ?? DEFAULT_MAX_BYTES,
    allowNonImage: options.allowNonImage ?? init.allowNonImage ?? false,
    names: { maxBytes: perCall('maxBytes'), allowNonImage: perCall('allowNonImage') }
  }
}
