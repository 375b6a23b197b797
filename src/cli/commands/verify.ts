import { FilesystemDriver } from '../../../drivers/fs/index.js'
import { S3Driver } from '../../../drivers/s3/index.js'
import { createVariants } from '../../variants/index.js'
import { plural, UsageError, type Command } from '../context.js'

export const verify: Command = {
  name: 'verify',
  usage: 'verify [--repair]',
  summary: 're-hash every object and cached variant (fs, s3); report what is bad; exit 0 only if clean',
  help: 'With --repair, bad objects are moved to {root}/.quarantine, stray temps are removed, and damaged,\nstray or orphaned variants are removed (they are made again on the next request).\nOn S3, bad objects go to {prefix}.quarantine/ and claims left by a killed prune are removed.',
  options: { repair: { type: 'boolean', default: false } },
  async run (cli) {
    const store = cli.storage()
    const repair = cli.flags.repair === true
    if (store instanceof S3Driver) {
      const report = await store.verify({ repair })
      cli.out(`${plural(report.checked, 'object')} checked, ${report.bytes} bytes: ${report.clean ? 'clean' : `${plural(report.problems.length, 'problem')}${repair ? ', repaired' : ''}`}` +
        report.problems.map(p => `\n  ${p.reason.padEnd(11)} ${p.path}${p.movedTo === undefined ? '' : ` -> ${p.movedTo}`}`).join(''), report)
      return report.clean ? 0 : 1
    }
    if (!(store instanceof FilesystemDriver)) throw new UsageError('verify works on the filesystem and S3 drivers')
    const result = await store.verify({ repair, concurrency: cli.concurrency() })
    // the variant cache: damaged entries, temps a crash left, variants of objects no longer stored
    const variants = await createVariants(store).verify({ repair })
    const empty = result.rootExists === false ? ` (the root ${store.root} does not exist yet: nothing was stored)` : ''
    const problems = result.problems.length + variants.problems.length
    cli.out(`${plural(result.checked, 'object')} checked, ${result.bytes} bytes; ${plural(variants.checked, 'variant')}, ${variants.bytes} bytes: ${problems === 0 ? 'clean' : `${plural(problems, 'problem')}${repair ? ', repaired' : ''}`}${empty}` +
      result.problems.map(p => `\n  ${p.reason.padEnd(10)} ${p.path}${p.movedTo === undefined ? '' : ` -> ${p.movedTo}`}`).join('') +
      variants.problems.map(p => `\n  variant ${p.reason.padEnd(8)} ${p.path}${repair ? ' (removed)' : ''}`).join(''), { ...result, clean: result.clean && variants.clean, variants })
    return result.clean && variants.clean ? 0 : 1
  }
}
