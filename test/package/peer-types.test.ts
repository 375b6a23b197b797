// The public types need none of the optional peers' types: a TypeScript file that imports only
// createImageStorage passes `tsc --strict` with skipLibCheck off, under node16, node and bundler
// resolution, in a project where no optional peer (the AWS SDK, kubo, sharp, pg...) is installed.
import { execFileSync } from 'node:child_process'
import { cp, mkdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
const SETTINGS = { node16: 'node16', node: 'commonjs', bundler: 'esnext' } as const

function check(app: string): string {
  try {
    execFileSync(process.execPath, [TSC, '-p', app], { cwd: app, encoding: 'utf8' })
    return ''
  } catch (err) {
    return (err as { stdout: string }).stdout
  }
}

describe('the public types without the optional peers', () => {
  it.each(Object.keys(SETTINGS) as Array<keyof typeof SETTINGS>)(
    'moduleResolution %s, strict, skipLibCheck off',
    async resolution => {
      const app = await tempDir('sai-types')
      // a copy, as npm installs it: the package's own folder holds none of its peers
      await mkdir(join(app, 'node_modules/sai-image-storage'), { recursive: true })
      await cp(join(ROOT, 'package.json'), join(app, 'node_modules/sai-image-storage/package.json'))
      await cp(join(ROOT, 'dist'), join(app, 'node_modules/sai-image-storage/dist'), {
        recursive: true,
        dereference: true
      })
      expect(() => createRequire(join(app, 'main.ts')).resolve('@aws-sdk/client-s3')).toThrow()
      await writeFile(
        join(app, 'main.ts'),
        "import { createImageStorage } from 'sai-image-storage'\n\nconst storage = createImageStorage()\nexport const found: Promise<boolean> = storage.exists('x')\n"
      )
      await writeFile(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: SETTINGS[resolution],
            moduleResolution: resolution,
            target: 'ES2022',
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules/@types')]
          },
          files: ['main.ts']
        })
      )
      expect(check(app)).toBe('')
      // the check can fail: a type error in the consumer is reported
      await writeFile(
        join(app, 'main.ts'),
        "import { createImageStorage } from 'sai-image-storage'\nexport const n: number = createImageStorage()\n"
      )
      expect(check(app)).toContain('error TS2322')
    },
    60_000
  )
})
