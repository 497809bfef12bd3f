// OpsIQ Consent widget entry point. The server replaces __OPSIQ_CONFIG__ with the
// site configuration resolved for this visitor (see widget/README.md).
import { safe } from './dom.js'
import { get, put, uuid } from './store.js'
import { cmDefault, cmUpdate } from './gcm.js'
import { blocker, wipe } from './block.js'
import { sender } from './send.js'
import { ui } from './ui.js'

const w = window
const d = document
const MK = 'marketing'

const main = C => {
  if (C.regime != 'opt_out' && C.regime != 'notice') C.regime = 'opt_in' // fail safe
  const P = C.purposes || []
  const PV = (C.policy || {}).version
  const VD = (C.validity_days || 180) * 864e5
  const gpc = navigator.globalPrivacyControl === true || C.gpc_header === true
  const L = {}
  const now = Date.now()
  let vid = get('vid')
  let S = get('consent')
  let U, want

  // Consent Mode defaults go first, before anything else we push.
  cmDefault(C.consent_mode || {}, gpc)

  // A stored choice counts only if it is recent, for this policy and covers every purpose.
  if (
    !S ||
    S.policyVersion != PV ||
    !(now - Date.parse(S.decidedAt) < VD) ||
    !(Date.parse(S.expiresAt) > now) ||
    P.some(p => !(p.slug in Object(S.decisions)))
  )
    S = null

  const norm = f => {
    const x = {}
    P.forEach(p => (x[p.slug] = !!(p.locked || f(p)) && !(gpc && p.slug == MK)))
    return x
  }
  const D0 = norm(p => p.default)
  let D = S ? norm(p => S.decisions[p.slug]) : D0

  const emit = n => {
    const x = A.get()
    ;(L[n] || []).forEach(f => safe(f)(x))
    if (n == 'change') w.dispatchEvent(new CustomEvent('opsiq:consent', { detail: x }))
  }

  const scan = blocker(s => s.split(/[\s,]+/).every(k => D[k]))
  const snd = sender(C.endpoint, (b, j) => {
    if (S && S.cid == b.client_record_id) {
      S.recordId = j.record_id || null
      S.receipt = j.receipt || null
      S.expiresAt = j.expires_at || S.expiresAt
      put('consent', S)
      emit('ack')
    }
  })

  const decide = (f, method) => {
    D = norm(f)
    if (!vid) put('vid', (vid = uuid())) // first write ever happens here, after a choice
    idf()
    const t = Date.now()
    const cid = uuid()
    S = {
      decisions: D,
      policyVersion: PV,
      recordId: null,
      receipt: null,
      decidedAt: new Date(t).toISOString(),
      expiresAt: new Date(t + VD).toISOString(),
      cid,
    }
    put('consent', S)
    P.forEach(p => D[p.slug] || wipe(p))
    cmUpdate(P, D, gpc, C.regime)
    scan()
    U && U.done()
    snd.add({
      site_key: C.site_key,
      visitor_id: vid,
      client_record_id: cid,
      decisions: D,
      method,
      policy_version: PV,
      language: C.language,
      page_url: location.origin + location.pathname, // no query or fragment: they can carry personal data
      gpc,
    })
    if (DEBUG) console.log('[opsiq] decision', method, D)
    emit('change')
  }

  const IQ = []
  const idf = () =>
    IQ.splice(0).forEach(([token, r]) =>
      fetch(C.endpoint.replace(/consents$/, 'identities/browser'), {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ site_key: C.site_key, visitor_id: vid, token }),
      })
        .then(x => (x.ok ? x.json() : null))
        .catch(() => null)
        .then(r)
    )

  const show = () => (U ? U.open() : (want = 1))
  const dnss = () => decide(p => p.slug != MK && D[p.slug], 'custom')

  const A = (w.opsiqConsent = {
    get: safe(() => {
      const s = S || {}
      return {
        visitorId: vid || null,
        decisions: S ? { ...D } : null, // effective: GPC masks a stored marketing grant
        regime: C.regime,
        policyVersion: s.policyVersion || PV || null,
        decidedAt: s.decidedAt || null,
        expiresAt: s.expiresAt || null,
        recordId: s.recordId || null,
        receipt: s.receipt || null,
      }
    }),
    acceptAll: safe(() => decide(() => 1, 'accept_all')),
    rejectAll: safe(() => decide(() => 0, 'reject_all')),
    set: safe(o => decide(p => (p.slug in o ? o[p.slug] : D[p.slug]), 'custom')),
    show: safe(show),
    on: safe((n, f) => (L[n] = L[n] || []).push(f)),
    // Link this browser to a person with a token the site's server signed. Before the first
    // choice there is no visitor id yet (nothing is stored): the link waits for that choice.
    identify: safe(t => new Promise(r => (IQ.push([t, r]), vid && idf()))),
  })

  // Command queue: (window.opsiqQ = window.opsiqQ || []).push(['on', 'change', fn])
  const q = w.opsiqQ
  const call = safe(c => (typeof c == 'function' ? c(A) : A[c[0]](...c.slice(1))))
  w.opsiqQ = { push: (...c) => c.forEach(call) }
  if (Array.isArray(q)) q.forEach(call)

  // GPC under opt-out is an opt-out of sale/share, recorded once without a click.
  if (gpc && C.regime == 'opt_out' && MK in D0 && (!S || S.decisions[MK])) decide(p => D[p.slug], 'gpc')
  else if (S) cmUpdate(P, D, gpc, C.regime) // replay the stored choice before tags run
  scan()

  // Page links: data-opsiq-settings opens the dialog, data-opsiq-dnss opts out of sale/share,
  // data-opsiq-reject withdraws everything in one click.
  d.addEventListener(
    'click',
    safe(e => {
      const t = e.target
      const a = t.closest('[data-opsiq-settings]') ? show : t.closest('[data-opsiq-dnss]') ? dnss : t.closest('[data-opsiq-reject]') ? A.rejectAll : 0
      if (a) {
        e.preventDefault()
        a()
      }
    })
  )

  const start = safe(() => {
    U = ui(C, { a: A.acceptAll, r: A.rejectAll, x: () => decide(p => D0[p.slug], 'dismiss'), n: dnss, s: f => decide(f, 'custom'), d: () => D, h: () => !!S }, !S)
    if (want) U.open()
  })
  // The script may run while <head> is still parsing: render as soon as <body> exists.
  const wait = () => (d.body ? start() : setTimeout(wait, 9))
  wait()
  snd.flush()
}

try {
  ;(w.opsiqConsent && w.opsiqConsent.get) || main(__OPSIQ_CONFIG__)
} catch (e) {
  if (DEBUG) console.error('[opsiq]', e)
}
