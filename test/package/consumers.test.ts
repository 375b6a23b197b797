import { execFileSync } from 'node:child_process'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { consumerApp, ROOT } from '../infra/helpers/consumer.js'

describe('consumers of the built package', () => {
  let app: string
  beforeAll(async () => {
    app = await consumerApp(['consumer.cjs', 'consumer.mjs', 'consumer-mixed.mjs'])
  })

  it('a CommonJS script requires it, stores and fetches', async () => {
    const out = execFileSync(process.execPath, ['consumer.cjs', join(app, 'store-cjs')], { cwd: app, encoding: 'utf8' })
    expect(JSON.parse(out)).toMatchObject({ ok: true })
  })

  it('an ES module imports it, stores and fetches', async () => {
    const out = execFileSync(process.execPath, ['consumer.mjs', join(app, 'store-esm')], { cwd: app, encoding: 'utf8' })
    expect(JSON.parse(out)).toMatchObject({ ok: true })
  })

  it("both builds in one process: an error of one is an instance of the other's class (the handler's 404)", async () => {
    const out = execFileSync(process.execPath, ['consumer-mixed.mjs', join(app, 'store-mixed')], {
      cwd: app,
      encoding: 'utf8'
    })
    expect(JSON.parse(out)).toMatchObject({ ok: true })
  })

  it.each(Object.keys(RESOLUTIONS))('TypeScript, moduleResolution "%s": every entry point type-checks', async name => {
    const { options, files } = RESOLUTIONS[name]!
    const dir = await consumerApp(['types.ts'])
    for (const file of files) await copyFile(join(dir, 'types.ts'), join(dir, file))
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...options,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')]
        },
        files
      })
    )
    expect(tsc(dir)).toBe('')
    // and the check can fail: a type error in the consumer is reported
    const wrong =
      "import { createImageStorage } from 'sai-image-storage'\nexport const n: number = createImageStorage()"
    await writeFile(join(dir, files[0]!), wrong)
    expect(tsc(dir)).toContain('error TS2322')
  })
})

/** Each resolution TypeScript offers, and the files checked with it (node16: a CommonJS and an ES module). */
const RESOLUTIONS: Record<string, { options: Record<string, string>; files: string[] }> = {
  node: { options: { module: 'commonjs', moduleResolution: 'node' }, files: ['types.ts'] },
  node16: { options: { module: 'node16', moduleResolution: 'node16' }, files: ['types.cts', 'types.mts'] },
  bundler: { options: { module: 'esnext', moduleResolution: 'bundler' }, files: ['types.ts'] }
}

const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

/** tsc's report on the project in `dir`: '' when it type-checks. */
function tsc(dir: string): string {
  try {
    return execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' })
  } catch (err) {
    return (err as { stdout: string }).stdout
  }
}
