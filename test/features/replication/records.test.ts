// The state folder's whole-file records (records.ts): written beside and renamed over, the folder
// made; read as none when absent or torn.
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readRecord, writeRecord, writeRecordSync } from '../../../src/features/replication/records.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('records', () => {
  it('a record written (async or sync) reads back whole; no temp file stays', async () => {
    const dir = await tempDir('sai-records')
    await writeRecord(join(dir, 'state', 'reconcile.json'), { at: 'now', primary: 3 })
    writeRecordSync(join(dir, 'state', 'failing', 's3.json'), { code: 'EIO' })
    expect(readRecord(join(dir, 'state', 'reconcile.json'))).toEqual({ at: 'now', primary: 3 })
    expect(readRecord(join(dir, 'state', 'failing', 's3.json'))).toEqual({ code: 'EIO' })
    await writeRecord(join(dir, 'state', 'reconcile.json'), { at: 'later' })
    expect(readRecord(join(dir, 'state', 'reconcile.json'))).toEqual({ at: 'later' })
    expect((await readdir(join(dir, 'state'))).sort()).toEqual(['failing', 'reconcile.json'])
  })

  it('none when absent or torn', async () => {
    const dir = await tempDir('sai-records-torn')
    expect(readRecord(join(dir, 'missing.json'))).toBeUndefined()
    await writeFile(join(dir, 'torn.json'), '{"at": "no')
    expect(readRecord(join(dir, 'torn.json'))).toBeUndefined()
  })
})
