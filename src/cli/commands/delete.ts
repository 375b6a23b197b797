/** `delete <ref>...`: objects named one by one, guarded as prune is (protected refs, --dry-run). */
import { ConfigError } from '../../core/errors.js'
import { createVariants, type Variants } from '../../features/variants/index.js'
import { UsageError, type Context } from '../context.js'
import { eachOperand, reportOutcomes } from '../operands.js'
import { keepSet } from './prune.js'

type Action = 'deleted' | 'would delete' | 'protected' | 'gone already'

export async function deleteCommand(cli: Context): Promise<number> {
  const refs = cli.operands('ref')
  if (refs.some(ref => ref.trim() === '')) throw new UsageError('an empty ref names no object')
  const dryRun = cli.flags['dry-run'] === true
  const keep = await keepSet(cli.strings('keep-file'), cli.string('keep-sql'))
  const storage = await cli.storage()
  let variants: Variants | undefined
  try {
    variants = createVariants(storage)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err // no variant cache for this driver
  }
  const outcomes = await eachOperand(refs, async ref => {
    const { hash, sha256, size } = await storage.stat(ref)
    const done = (action: Action): { ref: string; hash: string; size: number; action: Action } => ({
      ref,
      hash,
      size,
      action
    })
    if (keep.has(hash) || (sha256 !== undefined && keep.has(sha256))) return done('protected')
    if (dryRun) return done('would delete')
    if (!(await storage.delete(hash))) return done('gone already')
    if (variants !== undefined && sha256 !== undefined) await variants.remove(sha256)
    return done('deleted')
  }).finally(async () => {
    await variants?.close()
  })
  return reportOutcomes(cli, storage, outcomes, {
    verb: dryRun ? 'looked up (dry run: nothing deleted)' : 'looked up',
    human: r => `${r.ref}: ${r.action} (${r.size} bytes)`,
    json: r => r,
    exit: r => (r.action === 'protected' ? 1 : 0)
  })
}
