// The banner, the preferences dialog and the persistent "Privacy settings" button,
// all inside one shadow root so host-page CSS cannot reach them.
import { el, onClick, safe } from './dom.js'
import css from './widget.css'

// Read while the widget's own script runs: document.currentScript is null in later callbacks.
const nonce = (document.currentScript || {}).nonce

/**
 * What the UI can ask of the widget.
 * @typedef {object} UiActions
 * @property {() => void} _acceptAll
 * @property {() => void} _rejectAll
 * @property {() => void} _dismiss the banner's × or Escape, "OK", or leaving the dialog before a choice
 * @property {() => void} _doNotSell opts out of every sale/share purpose
 * @property {(allowed: (purpose: import('./config.js').Purpose) => boolean) => void} _save
 * @property {() => Object<string, boolean>} _decisions the decisions in force
 * @property {() => boolean} _decided whether a valid choice is stored
 * @property {() => void} _download saves this browser's consent data as a JSON file
 * @property {() => void} _erase erases this browser's consent data on the server, then starts over
 * @property {() => boolean} _hasData whether the server holds anything of this browser
 */

/**
 * Renders the widget into the page; the banner only when showBanner.
 * @param {import('./config.js').SiteConfig} config
 * @param {UiActions} actions
 * @param {boolean} showBanner
 */
export const mountUi = (config, actions, showBanner) => {
  const texts = config.texts || {}
  const purposes = config.purposes || []
  const doc = document
  const switches = {}
  const host = el('div', { id: 'opsiq-consent' })
  const root = host.attachShadow({ mode: 'open' })
  // The site's theme colours (the dashboard checks their contrast) as the CSS variables a page may set too.
  for (const name in config.theme) host.style.setProperty('--opsiq-' + name, config.theme[name])
  let focusBeforeBanner, focusBeforeDialog, banner

  const button = (attributes, label, action) => onClick(el('button', { type: 'button', ...attributes }, [label]), action)
  const choice = (textKey, action) => button({ class: 'x', part: 'button' }, texts[textKey], action)
  const closeButton = action => button({ class: 'c', 'aria-label': texts.close }, '\xd7', action)

  const closeDialog = () => {
    overlay.hidden = true
    // Under opt-in, leaving the dialog before any choice is a refusal.
    actions._decided() || config.regime != 'opt_in' ? refocus() : actions._dismiss()
  }
  const policyLink = () => {
    const url = (config.policy || {}).url
    return /^https?:/i.test(url) && el('a', { href: url, target: '_blank', rel: 'noopener' }, [texts.policy_link])
  }
  const paragraph = text => el('p', {}, [text, ' ', policyLink()])
  const focusable = node => node && node.isConnected && node != doc.body && !node.closest('[hidden]')
  const refocus = () => ([focusBeforeDialog, focusBeforeBanner].find(focusable) || settingsButton).focus()

  const openDialog = () => {
    focusBeforeDialog = root.activeElement || doc.activeElement
    const decisions = actions._decisions()
    purposes.forEach(p => {
      switches[p.slug].checked = !!decisions[p.slug]
      switches[p.slug].disabled = !!p.locked
    })
    dataRow.hidden = !actions._hasData()
    overlay.hidden = false
    dialog.querySelector('button').focus()
  }
  const dataRow = el('div', { class: 'm' }, [
    button({ class: 'l' }, texts.download_data, actions._download),
    button({ class: 'l' }, texts.delete_data, () => confirm(texts.delete_confirm) && actions._erase()),
  ])

  const dialog = el('div', { class: 'd', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'od', part: 'dialog' }, [
    closeButton(closeDialog),
    el('h2', { id: 'od' }, [texts.privacy_settings]),
    paragraph(texts.description),
    ...purposes.map((p, i) =>
      el('div', { class: 'p' }, [
        el('label', {}, [p.title, (switches[p.slug] = el('input', { type: 'checkbox', role: 'switch', 'aria-describedby': 'pd' + i }))]),
        el('p', { id: 'pd' + i }, [p.description, p.locked && ' ' + (texts.necessary_note || '')]),
      ])
    ),
    el('div', { class: 'a' }, [
      config.regime == 'opt_out' && choice('dnss', actions._doNotSell),
      choice('accept_all', actions._acceptAll),
      choice('reject_all', actions._rejectAll),
      choice('save', () => actions._save(p => switches[p.slug].checked)),
    ]),
    dataRow,
  ])
  const overlay = el('div', { class: 'o', hidden: '' }, [dialog])
  overlay.addEventListener('click', safe(e => e.target == overlay && closeDialog()))
  dialog.addEventListener('keydown', safe(e => {
    if (e.key == 'Escape') closeDialog()
    else if (e.key == 'Tab') {
      // Focus trap: wrap around at both ends.
      const stops = [...dialog.querySelectorAll('a[href],button,input:enabled')].filter(focusable)
      const at = stops.indexOf(root.activeElement)
      if (e.shiftKey ? at < 1 : at == stops.length - 1) {
        e.preventDefault()
        stops[e.shiftKey ? stops.length - 1 : 0].focus()
      }
    }
  }))

  if (showBanner) {
    const choices = { opt_out: ['dnss', 'settings', 'ok'], notice: ['ok', 'settings'] }[config.regime] || ['accept_all', 'reject_all', 'settings']
    const choiceActions = { accept_all: actions._acceptAll, reject_all: actions._rejectAll, settings: openDialog, ok: actions._dismiss, dnss: actions._doNotSell }
    banner = el('section', { class: 'b', role: 'region', 'aria-labelledby': 'ot', tabindex: '-1', part: 'banner' }, [
      config.regime == 'opt_in' && closeButton(actions._dismiss),
      el('h2', { id: 'ot' }, [texts.title]),
      paragraph(texts.description),
      el('div', { class: 'a' }, choices.map(key => choice(key, choiceActions[key]))),
    ])
    banner.addEventListener('keydown', safe(e => e.key == 'Escape' && actions._dismiss()))
  }
  const settingsButton = button({ class: 'f', part: 'fab' }, texts.privacy_settings, openDialog)
  settingsButton.hidden = !!banner

  // A constructed stylesheet is no inline style: a host page's style-src never refuses it. Without
  // one (Safari < 16.4, Firefox < 101) a <style> that carries the nonce of our script tag, if any.
  if (root.adoptedStyleSheets) {
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(css)
    root.adoptedStyleSheets = [sheet]
  } else root.append(el('style', { nonce }, [css]))
  root.append(el('div', { class: 'r', dir: config.dir == 'rtl' ? 'rtl' : 'ltr', lang: config.language }, [banner, overlay, settingsButton]))
  doc.body.append(host)
  if (banner) {
    focusBeforeBanner = doc.activeElement
    // Focus after the first paint: focus() forces a layout of the whole page and would delay
    // the banner by tens of ms. Skipped if the visitor has moved focus meanwhile.
    requestAnimationFrame(() => setTimeout(safe(() => doc.activeElement == focusBeforeBanner && banner.isConnected && banner.focus({ preventScroll: true }))))
  }

  return {
    _openDialog: openDialog,
    _remove: () => host.remove(),
    // After any decision: close everything, keep the settings button, and if the
    // visitor was inside the widget put focus back where it was before.
    _close() {
      const inside = root.activeElement
      overlay.hidden = true
      banner && banner.remove()
      settingsButton.hidden = false
      if (inside) refocus()
    },
  }
}
