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
  /** The setting the message names (what chose the feature). */
  setting: string
  /** `npm install …` arguments: `@aws-sdk/client-s3@3.1175.0`. */
  install: string
  load: () => Promise<T>
}

export function optionalPeer<T>(peer: PeerPackage<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return async () => {
    loading ??= peer.load().catch((err: unknown) => {
      loading = undefined
      throw new ConfigError(
        peer.setting,
        `${peer.neededBy} needs the package ${peer.install.replace(/(.)@[^@ ]+/g, '$1')}: npm install ${peer.install} (${(err as Error).message})`
      )
    })
    return await loading
  }
}
