// Delivery of consent records: queued in localStorage (opsiq.q) until the server
// acknowledges them; retries reuse client_record_id so the server stores each once.
import { read, write } from './store.js'

// onAck(record, responseJson) runs when the server has stored a record.
export const sender = (url, onAck) => {
  // What one POST came to (local constants: esbuild inlines them).
  const RETRY = 0
  const ACKED = 1
  const DROPPED = 2 // rejected for good
  let busy
  let failures = 0
  let timer

  const post = async record => {
    try {
      const body = JSON.stringify(record)
      // A beacon's answer cannot be read: once the browser has queued it, it is done.
      if (!window.fetch) return navigator.sendBeacon(url, body) ? DROPPED : RETRY
      const response = await fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } })
      const status = response.status
      if (response.ok) {
        onAck(record, await response.json().catch(() => ({})))
        return ACKED
      }
      return status < 500 && status != 408 && status != 429 ? DROPPED : RETRY
    } catch (error) {
      return RETRY
    }
  }

  const flush = async () => {
    if (busy) return
    busy = 1
    clearTimeout(timer)
    let queue
    let outcome
    let sent = 0
    try {
      // Re-read the queue each time: another tab may have changed it meanwhile.
      while ((queue = read('q') || [])[0] && sent++ < 30 && (outcome = await post(queue[0])) != RETRY) {
        queue = (read('q') || []).filter(record => record.client_record_id != queue[0].client_record_id)
        write('q', queue.length ? queue : null)
      }
    } finally {
      busy = 0
    }
    if (outcome === RETRY) timer = setTimeout(flush, 2e3 * 2 ** Math.min(failures++, 11))
    else failures = 0
  }

  addEventListener('online', flush)
  return {
    _flush: flush,
    _add: record => {
      write('q', [...(read('q') || []), record].slice(-50))
      flush()
    },
  }
}
