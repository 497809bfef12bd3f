// Google Consent Mode v2: defaults first, then one "update" per decision.
const w = window
const KEYS = 'ad_storage ad_user_data ad_personalization analytics_storage functionality_storage personalization_storage security_storage'.split(' ')

const dl = () => (w.dataLayer = w.dataLayer || [])

// Must push the arguments object itself, exactly as Google's snippet does.
export function gtag() {
  dl().push(arguments)
}

const denied = () => {
  const v = {}
  KEYS.forEach(k => (v[k] = 'denied'))
  v.security_storage = 'granted'
  return v
}

// GPC means "do not sell or share": the ad_* signals stay denied whatever else is stored.
const noAds = (v, gpc) => {
  if (gpc) for (const k in v) if (!k.indexOf('ad_')) v[k] = 'denied'
  return v
}

// One "default" per region entry, then the region-less fallback.
export const cmDefault = (m, gpc) => {
  w.gtag = w.gtag || gtag
  const d = m.defaults && m.defaults.length ? m.defaults : [{ values: denied() }]
  d.slice()
    .sort((a, b) => !a.region - !b.region)
    .forEach(e => {
      const v = noAds({ ...e.values }, gpc)
      if (e.region) v.region = e.region
      if (m.wait_for_update) v.wait_for_update = m.wait_for_update
      gtag('consent', 'default', v)
    })
}

export const cmUpdate = (P, x, gpc, regime) => {
  const v = denied()
  P.forEach(p => x[p.slug] && (p.consent_mode || []).forEach(k => (v[k] = 'granted')))
  v.security_storage = 'granted'
  gtag('consent', 'update', noAds(v, gpc))
  dl().push({ event: 'opsiq_consent_update', opsiq: { decisions: { ...x }, regime, gpc } })
}
