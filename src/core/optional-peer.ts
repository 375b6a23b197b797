/**
 * Optional peer packages (the AWS SDK, kubo-rpc-client, sharp, pg) are loaded with `import()` on
 * first use, so that nobody pays for what they do not use. One shape for all: the module, or
 * `ERR_CONFIG` saying what to install and for what. A failed load is tried again next time (the
 * package may be installed meanwhile).
 */
import { ConfigError } from './errors.js'

export interface PeerPackage<T> {
  /** What needs it, for the message: `the S3 driver`. */
  neededBy: string
  /** The option the message names (what chose the feature: `driver`), which the factory names again... */
  option?: string
  /** ...or a setting named as it is (`DATABASE_URL`, `--metrics-port`), where no option chose it. */
  setting?: string
  /** `npm install …` arguments: `@aws-sdk/client-s3@3.1175.0`. */
  install: string
  load: () => Promise<T>
}

export function optionalPeer<T>(peer: PeerPackage<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return async () => {
    loading ??= peer.load()
    try {
      return await loading
    } catch (err) {
      loading = undefined
      // an error of each caller's own: the factory names it for the store that asked
      const install = peer.install.replace(/(.)@[^@ ]+/g, '$1')
      const reason = `${peer.neededBy} needs the package ${install}: npm install ${peer.install}`
      const why = `${reason} (${(err as Error).message})`
      throw peer.setting === undefined ? ConfigError.forOption(peer.option!, why) : new ConfigError(peer.setting, why)
    }
  }
}
