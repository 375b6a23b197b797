import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { JsonLines } from '../../../src/features/jobs/mapping.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('JsonLines: a job file read back whole lines only', () => {
  it('reads every whole line of a file of several MiB, lines across each read and UTF-8 across them; drops a torn last line', async () => {
    const file = join(await tempDir('sai-jsonlines'), 'm.jsonl')
    const lines: string[] = []
    // lines of 100-300 bytes, with two- and three-byte characters: some fall across every 1 MiB boundary
    for (let i = 0, length = 0; length < 5 * 2 ** 20; i++) {
      lines.push(JSON.stringify({ source: `cámara-${i}/${'ñ€'.repeat(i % 80)}.jpg`, n: i }))
      length += lines.at(-1)!.length
    }
    const whole = lines.join('\n') + '\n'
    const extras = 'not json\n{"a":1}\r\n'
    await writeFile(file, whole + extras + '{"source":"torn')
    const read: Array<Record<string, unknown>> = []
    const jsonl = await JsonLines.open(file, entry => read.push(entry))
    await jsonl.append({ source: 'next' })
    await jsonl.close()
    expect(read.length).toBe(lines.length + 1) // the line that is not JSON passed over, CRLF read
    expect(read.slice(0, -1).map(entry => JSON.stringify(entry))).toEqual(lines)
    expect(read.at(-1)).toEqual({ a: 1 })
    // the torn line is gone, the next line follows whole lines
    expect(await readFile(file, 'utf8')).toBe(`${whole}${extras}{"source":"next"}\n`)
  })

  it('an empty or new file reads nothing, and is kept', async () => {
    const file = join(await tempDir('sai-jsonlines'), 'new.jsonl')
    const read: unknown[] = []
    await (await JsonLines.open(file, entry => read.push(entry))).close()
    expect([read.length, (await stat(file)).size]).toEqual([0, 0])
    await writeFile(file, 'torn, no newline at all')
    await (await JsonLines.open(file, entry => read.push(entry))).close()
    expect([read.length, (await stat(file)).size]).toEqual([0, 0])
  })
})
