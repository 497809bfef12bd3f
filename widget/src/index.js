// OpsIQ Consent widget entry point. The server replaces __OPSIQ_CONFIG__ with the
// site configuration resolved for this visitor (typedef in config.js, see widget/README.md).
import { isSaleShare } from './config.js'
import { el, safe } from './dom.js'
import { read, write, uuid } from './store.js'
import { consentModeDefaults, consentModeUpdate } from './gcm.js'
import { blocker } from './block.js'
import { wipe } from './cleanup.js'
import { sender } from './send.js'
import { mountUi } from './ui.js'

const win = window
const doc = document

/** @typedef {import('./config.js').SiteConfig} SiteConfig */

/**
 * Starts the widget on this page: Consent Mode defaults, the stored choice, the API, the UI.
 * @param {SiteConfig} config the configuration the server inlined
 */
const main = config => {
  if (config.regime != 'opt_out' && config.regime != 'notice') config.regime = 'opt_in' // fail safe
  const purposes = config.purposes || []
  const policy = config.policy || {}
  const policyVersion = policy.version
  // the versions whose choices still count: this one and the corrections since the last that asked again
  const accepted = policy.accepts || [policyVersion]
  const validity = (config.validity_days || 180) * 864e5
  const gpc = navigator.globalPrivacyControl === true || config.gpc_header === true
  const listeners = {}
  const now = Date.now()
  let visitorId = read('vid')
  // The browser's proof that it speaks for visitorId: the server binds it on the first write and
  // refuses writes without it, so the id alone (in receipts, analytics hits) changes nothing.
  let secret = read('vsec')
  let stored = read('consent')
  let view, openWhenMounted

  // Consent Mode defaults go first, before anything else we push.
  consentModeDefaults(config.consent_mode || {}, gpc)

  // A stored choice counts only if it is recent, for this policy and covers every purpose.
  if (
    !stored ||
    !accepted.some(version => version == stored.policyVersion) ||
    !(now - Date.parse(stored.decidedAt) < validity) ||
    !(Date.parse(stored.expiresAt) > now) ||
    purposes.some(p => !(p.slug in Object(stored.decisions)))
  )
    stored = null

  // The decisions in force for choose(purpose): necessary stays on, GPC keeps sale/share off.
  const effective = choose => {
    const result = {}
    purposes.forEach(p => (result[p.slug] = !!(p.locked || choose(p)) && !(gpc && isSaleShare(p))))
    return result
  }
  const defaults = effective(p => p.default)
  let decisions = stored ? effective(p => stored.decisions[p.slug]) : defaults

  const emit = name => {
    const state = api.get()
    ;(listeners[name] || []).forEach(listener => safe(listener)(state))
    if (name == 'change') win.dispatchEvent(new CustomEvent('opsiq:consent', { detail: state }))
  }

  const scan = blocker(names => names.split(/[\s,]+/).every(slug => decisions[slug]))
  const delivery = sender(config.endpoint, (record, response) => {
    if (stored && stored.cid == record.client_record_id) {
      stored.recordId = response.record_id || null
      stored.receipt = response.receipt || null
      stored.expiresAt = response.expires_at || stored.expiresAt
      write('consent', stored)
      emit('ack')
    }
  })

  // A browser endpoint beside /consents, for this browser's visitor: its secret proves it.
  const call = (path, body) =>
    fetch(config.endpoint.replace(/consents$/, path), {
      method: 'POST',
      credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ site_key: config.site_key, visitor_id: visitorId, visitor_secret: secret, ...body }),
    })
      .then(response => (response.ok ? response.json() : null))
      .catch(() => null)

  // identify(token) waits for the first choice: before it there is no visitor id (nothing is stored).
  const pendingLinks = []
  const sendLinks = () => pendingLinks.splice(0).forEach(([token, resolve]) => call('identities/browser', { token }).then(resolve))

  // The visitor's own data (GDPR 15, 17): none before a first choice.
  const exportData = () => (visitorId ? call('subjects/browser-export') : Promise.resolve(null))
  const erase = () =>
    (visitorId ? call('subjects/browser-erase') : Promise.resolve(null)).then(
      safe(result => {
        if (result) {
          // Nothing of this browser is left: no id, no choice, nothing queued; the banner asks again.
          ;['vid', 'vsec', 'consent', 'q'].forEach(name => write(name, null))
          visitorId = secret = stored = null
          decisions = defaults
          purposes.forEach(p => decisions[p.slug] || wipe(p))
          consentModeUpdate(purposes, decisions, gpc, config.regime)
          view && view._remove()
          view = null
          mount()
          emit('change')
        }
        return result
      })
    )
  const download = () =>
    exportData().then(
      safe(data => {
        if (data) {
          const link = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' })), download: 'consent-data.json' })
          link.click()
          URL.revokeObjectURL(link.href)
        }
      })
    )

  const decide = (choose, method) => {
    decisions = effective(choose)
    if (!visitorId) write('vid', (visitorId = uuid())) // first write ever happens here, after a choice
    if (!secret) write('vsec', (secret = uuid())) // with the id, or for an id kept from before secrets
    sendLinks()
    const decidedAt = Date.now()
    const cid = uuid()
    stored = {
      decisions,
      policyVersion,
      recordId: null,
      receipt: null,
      decidedAt: new Date(decidedAt).toISOString(),
      expiresAt: new Date(decidedAt + validity).toISOString(),
      cid,
    }
    write('consent', stored)
    purposes.forEach(p => decisions[p.slug] || wipe(p))
    consentModeUpdate(purposes, decisions, gpc, config.regime)
    scan()
    view && view._close()
    delivery._add({
      site_key: config.site_key,
      visitor_id: visitorId,
      visitor_secret: secret,
      client_record_id: cid,
      decisions,
      method,
      policy_version: policyVersion,
      language: config.language,
      page_url: location.origin + location.pathname, // no query or fragment: they can carry personal data
      gpc,
      widget_build: config.widget_build,
    })
    if (DEBUG) console.log('[opsiq] decision', method, decisions)
    emit('change')
  }

  const openSettings = () => (view ? view._openDialog() : (openWhenMounted = 1))
  const doNotSell = () => decide(p => !isSaleShare(p) && decisions[p.slug], 'custom')

  const api = (win.opsiqConsent = {
    get: safe(() => {
      const choice = stored || {}
      return {
        visitorId: visitorId || null,
        decisions: stored ? { ...decisions } : null, // effective: GPC masks a stored sale/share grant
        regime: config.regime,
        policyVersion: choice.policyVersion || policyVersion || null,
        decidedAt: choice.decidedAt || null,
        expiresAt: choice.expiresAt || null,
        recordId: choice.recordId || null,
        receipt: choice.receipt || null,
      }
    }),
    acceptAll: safe(() => decide(() => 1, 'accept_all')),
    rejectAll: safe(() => decide(() => 0, 'reject_all')),
    set: safe(choices => decide(p => (p.slug in choices ? choices[p.slug] : decisions[p.slug]), 'custom')),
    show: safe(openSettings),
    on: safe((name, listener) => (listeners[name] = listeners[name] || []).push(listener)),
    identify: safe(token => new Promise(resolve => (pendingLinks.push([token, resolve]), visitorId && sendLinks()))),
    exportData: safe(exportData),
    erase: safe(erase),
  })

  // Command queue: (window.opsiqQ = window.opsiqQ || []).push(['on', 'change', fn])
  const queued = win.opsiqQ
  const run = safe(command => (typeof command == 'function' ? command(api) : api[command[0]](...command.slice(1))))
  win.opsiqQ = { push: (...commands) => commands.forEach(run) }
  if (Array.isArray(queued)) queued.forEach(run)

  // GPC under opt-out is an opt-out of sale/share, recorded once without a click.
  if (gpc && config.regime == 'opt_out' && purposes.some(p => isSaleShare(p) && (!stored || stored.decisions[p.slug])))
    decide(p => decisions[p.slug], 'gpc')
  else if (stored) consentModeUpdate(purposes, decisions, gpc, config.regime) // replay the stored choice before tags run
  scan()

  // Page controls: data-opsiq-settings opens the dialog, data-opsiq-dnss opts out of sale/share,
  // data-opsiq-reject withdraws everything in one click.
  doc.addEventListener(
    'click',
    safe(e => {
      const target = e.target
      const action = target.closest('[data-opsiq-settings]')
        ? openSettings
        : target.closest('[data-opsiq-dnss]')
          ? doNotSell
          : target.closest('[data-opsiq-reject]')
            ? api.rejectAll
            : 0
      if (action) {
        e.preventDefault()
        action()
      }
    })
  )

  const mount = safe(() => {
    view = mountUi(
      config,
      {
        _acceptAll: api.acceptAll,
        _rejectAll: api.rejectAll,
        _dismiss: () => decide(p => defaults[p.slug], 'dismiss'),
        _doNotSell: doNotSell,
        _save: choose => decide(choose, 'custom'),
        _decisions: () => decisions,
        _decided: () => !!stored,
        _download: download,
        _erase: erase,
        _hasData: () => !!visitorId,
      },
      !stored
    )
    if (openWhenMounted) view._openDialog()
  })
  // The script may run while <head> is still parsing: render as soon as <body> exists.
  const waitForBody = () => (doc.body ? mount() : setTimeout(waitForBody, 9))
  waitForBody()
  delivery._flush()
}

try {
  ;(win.opsiqConsent && win.opsiqConsent.get) || main(__OPSIQ_CONFIG__)
} catch (error) {
  if (DEBUG) console.error('[opsiq]', error)
}
