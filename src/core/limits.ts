import { settingName, type SettingNames } from './errors.js'
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
   * How messages name each setting: the environment variable or flag it came from (the factory and
   * the CLI fill this in). Default: the option's own name (`root`, `bucket`, `maxBytes`).
   */
  settingNames?: SettingNames
}

/** A driver's limits, overridden per call by `store` options. */
export function resolveLimits(init: LimitsInit, options: StoreOptions = {}): InputLimits {
  const name = (option: 'maxBytes' | 'allowNonImage'): string =>
    options[option] !== undefined ? `the store option ${option}` : settingName(init.settingNames, option)
  return {
    maxBytes: options.maxBytes ?? init.maxBytes ?? DEFAULT_MAX_BYTES,
    allowNonImage: options.allowNonImage ?? init.allowNonImage ?? false,
    names: { maxBytes: name('maxBytes'), allowNonImage: name('allowNonImage') }
  }
}
