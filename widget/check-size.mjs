// Prints the size of static/widget.js raw, gzip -9 and brotli q11; exits 1 over budget.
import { readFileSync } from 'node:fs'
import { gzipSync, brotliCompressSync, constants as Z } from 'node:zlib'

const BUDGET = 6144 // bytes after gzip -9: a hard limit
const file = new URL('../static/widget.js', import.meta.url)
const raw = readFileSync(file)
const gz = gzipSync(raw, { level: 9 }).length
const br = brotliCompressSync(raw, {
  params: { [Z.BROTLI_PARAM_QUALITY]: 11, [Z.BROTLI_PARAM_MODE]: Z.BROTLI_MODE_TEXT, [Z.BROTLI_PARAM_SIZE_HINT]: raw.length },
}).length

console.log(`static/widget.js  raw ${raw.length} B  gzip-9 ${gz} B  brotli-11 ${br} B  (budget ${BUDGET} B gzip, ${BUDGET - gz} B left)`)
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} B gzip`)
  process.exit(1)
}
