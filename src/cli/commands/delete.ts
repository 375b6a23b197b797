/** `delete <ref>...`: objects named one by one, guarded as prune is (protected refs, --dry-run). */
import { ConfigError, NotFoundError } from '../../core/errors.js'
import { asSha256 } from '../../core/ref.js'
import { createVariants, type Variants } from '../../features/variants/index.js'
import { UsageError, type Context } from '../context.js'
import { eachOperand, reportOutcomes } from '../operands.js'
import { keepSet } from './prune.js'

type Action = 'deleted' | 'would delete' | 'protected' | 'gone already' | 'forgotten (lost)'

export async function deleteCommand(cli: Context): Promise<number> {
  const refs = cli.operands('ref')
  if (refs.some(ref => ref.trim() === '')) throw new UsageError('an empty ref names no object')
  const dryRun = cli.flags['dry-run'] === true
  const keep = await keepSet(cli.strings('keep-file'), cli.string('keep-sql'), {
    refuseEmpty: cli.flags['allow-empty-keep'] !== true
  })
  const storage = await cli.storage()
  let variants: Variants | undefined
  try {
    variants = createVariants(storage)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err // no variant cache for this driver
  }
  /**
   * A lost frame (every copy gone, the replication ledger still knowing it): its delete forgets it, and its loss is
   * no longer reported (`delete` says whether the store knew it). Any other failure of `stat` is the answer.
   */
  const forgetLost = async (err: unknown, ref: string): Promise<undefined> => {
    const sha256 = asSha256(ref)
    if (!(err instanceof NotFoundError) || sha256 === undefined || dryRun || keep.has(sha256)) throw err
    if (!(await storage.delete(sha256))) throw err
    return undefined
  }
  const outcomes = await eachOperand(refs, async ref => {
    const found = await storage.stat(ref).catch(async (err: unknown) => await forgetLost(err, ref))
    if (found === undefined) return { ref, hash: asSha256(ref)!, size: 0, action: 'forgotten (lost)' as Action }
    const { hash, sha256, size } = found
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
