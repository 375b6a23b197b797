// Prints the plain summary line CI reads, from vitest's JSON report.
import { readFileSync } from 'node:fs'

let report
try {
  report = JSON.parse(readFileSync('.test-results.json', 'utf8'))
} catch {
  console.log('0 passed, 1 failed')
  process.exit(1)
}
// a test file that fails to load has no failed test of its own: count it as one failure
const unloaded = report.testResults.filter(file => file.status === 'failed' && !file.assertionResults.some(t => t.status === 'failed')).length
const failed = report.numFailedTests + unloaded
console.log(`${report.numPassedTests} passed, ${failed} failed, ${report.numPendingTests + report.numTodoTests} skipped`)
process.exit(failed === 0 && report.success ? 0 : 1)
