import { addImageHashColumn, backfillImageHashes } from '../../features/dashboard/backfill.js'
import { connectDatabase, databaseError } from '../database.js'
import { plural, UsageError, wholeNumber, type Context } from '../context.js'

export async function backfillHashes(cli: Context): Promise<number> {
  const mapping = cli.string('mapping')
  if (mapping === undefined) throw new UsageError('backfill-hashes needs --mapping FILE (written by sai-images import)')
  const batchSize = wholeNumber(cli.string('batch') ?? '1000')
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    throw new UsageError('--batch takes a whole number from 1 to 100000')
  const table = cli.string('table') ?? 'execution_images'
  const db = await connectDatabase()
  try {
    if (cli.flags.migrate === true && cli.flags['dry-run'] !== true) await addImageHashColumn(db, table)
    const report = await backfillImageHashes(db, mapping, {
      table,
      idColumn: cli.string('id-column'),
      batchSize,
      dryRun: cli.flags['dry-run'] === true,
      signal: cli.stopSignal()
    })
    const verb = cli.flags['dry-run'] === true ? 'would set' : 'set'
    cli.out(
      `backfill ${report.interrupted ? 'interrupted' : 'complete'}: ${verb} ${plural(report.updated, 'row')}, ` +
        `${report.alreadySet} already set, ${report.conflicts.length} held another hash, ` +
        `${report.noRow} with no row, ${report.unusable} unusable lines, of ${plural(report.lines, 'line')}` +
        report.conflicts
          .map(c => `\n  execution ${c.executionId}: database ${c.inDatabase}, mapping ${c.inMapping}`)
          .join(''),
      { command: 'backfill-hashes', dryRun: cli.flags['dry-run'] === true, ...report }
    )
    if (report.interrupted) return 130
    return report.conflicts.length > 0 ? 1 : 0
  } catch (err) {
    throw databaseError(err, `run with --migrate to add image_hash to ${table}, or name the table with --table`)
  } finally {
    await db.end()
  }
}
