/**
 * Optional peer packages (the AWS SDK, sharp, pg, prom-client, ipfs-unixfs-importer) are loaded on
 * first use, so that nobody pays for what they do not use. One shape for all: the module, or
 * `ERR_CONFIG` saying what to install and for what. A failed load is tried again next time (the
 * package may be installed meanwhile).
 *
 * The ES modules load them with `import()`; the CommonJS bundle with `require()` where the package
 * ships CommonJS: Jest, the dashboard's test runner, runs CommonJS in a VM that refuses `import()`
 * unless node runs with `--experimental-vm-modules`.
 */
import { ConfigError } from './errors.js'

/** `true` in the CommonJS bundle, `false` in the ES modules (tsup.config.ts); absent in the sources run as such. */
declare const __COMMONJS__: boolean | undefined
const COMMONJS = typeof __COMMONJS__ === 'boolean' && __COMMONJS__

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
  /** The same module by `require()`, for the CommonJS bundle; absent for a package that is ES modules only. */
  require?: () => T
}

export function optionalPeer<T>(peer: PeerPackage<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return async () => {
    loading ??= COMMONJS && peer.require ? Promise.resolve().then(peer.require) : peer.load()
    try {
      return await loading
    } catch (err) {
      loading = undefined
      // an error of each caller's own: the factory names it for the store that asked
      const install = peer.install.replace(/(.)@[^@ ]+/g, '$1')
      const reason = refusedImport(err)
        ? `${peer.neededBy} loads the ES module ${install} with import(), which this VM refuses: under Jest, run node with --experimental-vm-modules`
        : `${peer.neededBy} needs the package ${install}: npm install ${peer.install}`
      const why = `${reason} (${(err as Error).message})`
      throw peer.setting === undefined ? ConfigError.forOption(peer.option!, why) : new ConfigError(peer.setting, why)
    }
  }
}

/** A VM without a loader for ES modules (Jest's, without the flag): the package is there, `import()` is refused. */
function refusedImport(err: unknown): boolean {
  return String((err as { code?: unknown }).code).startsWith('ERR_VM_DYNAMIC_IMPORT')
}
