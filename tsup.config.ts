import { defineConfig } from 'tsup'

const entry = {
  index: 'src/index.ts',
  'drivers/fs': 'drivers/fs/index.ts',
  'drivers/memory': 'drivers/memory.ts',
  testing: 'src/testing/index.ts'
}

// multiformats is ESM-only: the CommonJS build carries its own copy so `require` works on Node 20.
// Splitting in both formats keeps one copy of each class, so `instanceof` holds across subpaths.
export default defineConfig([
  { entry, format: 'esm', dts: true, splitting: true, sourcemap: true, target: 'node20' },
  { entry, format: 'cjs', dts: true, splitting: true, sourcemap: true, target: 'node20', noExternal: [/^multiformats/] }
])
