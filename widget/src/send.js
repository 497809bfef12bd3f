// Delivery of consent records: queued in localStorage (opsiq.q) until the server
// acknowledges them; retries reuse client_record_id so the server stores each once.
import { get, put } from './store.js'

export const sender = (url, ack) => {
  let busy, tries = 0, timer

  // 1 = acknowledged, 2 = rejected for good (drop it), 0 = try again later
  const post = async b => {
    try {
      const body = JSON.stringify(b)
      if (!window.fetch) return navigator.sendBeacon(url, body) ? 2 : 0
      const r = await fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } })
      const s = r.status
      if (r.ok) {
        ack(b, await r.json().catch(() => ({})))
        return 1
      }
      return s < 500 && s != 408 && s != 429 ? 2 : 0
    } catch (e) {
      return 0
    }
  }

  const flush = async () => {
    if (busy) return
    busy = 1
    clearTimeout(timer)
    let q, r, i = 0
    try {
      // Re-read the queue each time: another tab may have changed it meanwhile.
      while ((q = get('q') || [])[0] && i++ < 30 && (r = await post(q[0]))) {
        q = (get('q') || []).filter(b => b.client_record_id != q[0].client_record_id)
        put('q', q.length ? q : null)
      }
    } finally {
      busy = 0
    }
    if (r === 0) timer = setTimeout(flush, 2e3 * 2 ** Math.min(tries++, 11))
    else tries = 0
  }

  addEventListener('online', flush)
  return {
    flush,
    add: b => {
      put('q', [...(get('q') || []), b].slice(-50))
      flush()
    },
  }
}
