// Google Consent Mode v2: defaults first, then one "update" per decision.
const win = window
const KEYS = 'ad_storage ad_user_data ad_personalization analytics_storage functionality_storage personalization_storage security_storage'.split(' ')

const dataLayer = () => (win.dataLayer = win.dataLayer || [])

// Must push the arguments object itself, exactly as Google's snippet does.
export function gtag() {
  dataLayer().push(arguments)
}

const allDenied = () => {
  const values = {}
  KEYS.forEach(key => (values[key] = 'denied'))
  values.security_storage = 'granted'
  return values
}

// GPC means "do not sell or share": the ad_* signals stay denied whatever else is stored.
const denyAdsUnderGpc = (values, gpc) => {
  if (gpc) for (const key in values) if (!key.indexOf('ad_')) values[key] = 'denied'
  return values
}

// One "default" per region entry, then the region-less fallback.
export const consentModeDefaults = (consentMode, gpc) => {
  win.gtag = win.gtag || gtag
  const entries = consentMode.defaults && consentMode.defaults.length ? consentMode.defaults : [{ values: allDenied() }]
  entries
    .slice()
    .sort((a, b) => !a.region - !b.region)
    .forEach(entry => {
      const values = denyAdsUnderGpc({ ...entry.values }, gpc)
      if (entry.region) values.region = entry.region
      if (consentMode.wait_for_update) values.wait_for_update = consentMode.wait_for_update
      gtag('consent', 'default', values)
    })
}

// A purpose's keys are granted when it is allowed; unmapped keys stay denied.
export const consentModeUpdate = (purposes, decisions, gpc, regime) => {
  const values = allDenied()
  purposes.forEach(p => decisions[p.slug] && (p.consent_mode || []).forEach(key => (values[key] = 'granted')))
  values.security_storage = 'granted'
  gtag('consent', 'update', denyAdsUnderGpc(values, gpc))
  dataLayer().push({ event: 'opsiq_consent_update', opsiq: { decisions: { ...decisions }, regime, gpc } })
}
