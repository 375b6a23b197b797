import { addImageHashColumn, backfillImageHashes } from '../../features/dashboard/backfill.js'
import { SQL_NAME } from '../../features/dashboard/sql-name.js'
import { connectDatabase, databaseError } from '../database.js'
import { plural, UsageError, wholeNumber, type Context } from '../context.js'

export async function backfillHashes(cli: Context): Promise<number> {
  const mapping = cli.string('mapping')
  if (mapping === undefined) throw new UsageError('backfill-hashes needs --mapping FILE (written by sai-images import)')
  const batchSize = wholeNumber(cli.string('batch') ?? '1000')
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    throw new UsageError('--batch takes a whole number from 1 to 100000')
  const table = cli.string('table') ?? 'execution_images'
  // named as the operator wrote them, and before the database is asked anything
  for (const [flag, name] of [
    ['--table', table],
    ['--id-column', cli.string('id-column')]
  ] as const)
    if (name !== undefined && !SQL_NAME.test(name))
      throw new UsageError(
        `${flag} takes a plain lower-case SQL name (schema.table for --table), not ${JSON.stringify(name)}`
      )
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
    // every line's row names another file: the mapping of processed/, or of another camera's tree
    const wrongMapping = report.otherFile > 0 && report.updated + report.alreadySet === 0
    cli.out(
      `backfill ${report.interrupted ? 'interrupted' : 'complete'}: ${verb} ${plural(report.updated, 'row')}, ` +
        `${report.alreadySet} already set, ${report.conflicts.length} held another hash, ` +
        `${report.noRow} with no row, ${report.otherFile} naming another file than their row's original_path, ` +
        `${report.unusable} unusable lines, of ${plural(report.lines, 'line')}` +
        (wrongMapping
          ? '\nno line names the file of its row (original_path): is this the mapping of the original/ tree?'
          : '') +
        report.conflicts
          .map(c => `\n  execution ${c.executionId}: database ${c.inDatabase}, mapping ${c.inMapping}`)
          .join(''),
      { command: 'backfill-hashes', dryRun: cli.flags['dry-run'] === true, ...report }
    )
    if (report.interrupted) return 130
    return report.conflicts.length > 0 || wrongMapping ? 1 : 0
  } catch (err) {
    throw databaseError(err, `run with --migrate to add image_hash to ${table}, or name the table with --table`)
  } finally {
    await db.end()
  }
}
