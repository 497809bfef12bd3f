// The configuration the server inlines in place of __OPSIQ_CONFIG__: resolve_config in
// app/services/sites/resolution.py, dumped through SiteConfigOut / PurposeConfig in app/schemas/sites.py.
// GET /api/v1/sites/<site_key>/config answers the same object.

/**
 * A site's configuration, resolved on the server for one visitor (their address, Accept-Language
 * and Sec-GPC header).
 * @typedef {object} SiteConfig
 * @property {string} site_key the site's public key, sent with every record
 * @property {string} endpoint absolute URL of POST /api/v1/consents; identify() posts beside it,
 *   to .../identities/browser
 * @property {'opt_in' | 'opt_out' | 'notice'} regime the law that applies where the visitor is;
 *   the widget treats any other value as opt_in
 * @property {'must_honour' | 'honour_as_policy' | 'record'} gpc_policy how that law treats a Global
 *   Privacy Control signal (informational: the widget honours GPC everywhere)
 * @property {string | null} country ISO 3166-1 alpha-2 code of the visitor's country, null if unknown
 * @property {string | null} region ISO 3166-2 code of the visitor's region (US-CA), null if unknown
 * @property {string} language the site language the texts are in (the lang attribute, and sent
 *   with every record)
 * @property {'ltr' | 'rtl'} dir writing direction of that language
 * @property {Policy | null} policy the privacy policy in force, null if the site has published none
 * @property {number} validity_days how long a choice lasts before the visitor is asked again
 *   (180 if missing)
 * @property {boolean} gpc_header whether the request for this script carried Sec-GPC: 1
 * @property {Texts} texts the banner and dialog texts in `language`
 * @property {Purpose[]} purposes the site's purposes, in display order
 * @property {ConsentModeConfig} consent_mode Google Consent Mode defaults for this visitor
 * @property {string} [widget_build] SHA-256 of this widget's built file, sent back with each decision
 *   so that its record names the code that collected it
 * @property {Object<string, string>} [theme] the site's colours, as --opsiq-<name> on the widget's host
 *   element: bg, fg, accent, accent-fg (#rrggbb; absent where the site keeps the defaults)
 */

/**
 * @typedef {object} Policy
 * @property {string} version the version a choice is made under
 * @property {string[]} [accepts] the versions whose stored choices still count: this one and the
 *   corrections published since the last version that asked every visitor again (absent: this one);
 *   a stored choice under any other version is asked again
 * @property {string} url where the policy is published, possibly empty (linked only if http: or https:)
 * @property {string} hash SHA-256 of the texts and purposes shown when the version was published
 *   (not read by the widget)
 */

/**
 * One purpose, its texts in the resolved language.
 * @typedef {object} Purpose
 * @property {string} slug stable identifier: the key in decisions and the name in data-consent
 * @property {string} title the switch's label
 * @property {string} description the text under the switch
 * @property {'necessary' | 'consent' | 'legitimate_interest'} basis its legal basis
 * @property {boolean} default whether it is allowed before any choice under this regime (only
 *   necessary purposes are under opt_in)
 * @property {boolean} locked necessary: always allowed, its switch disabled
 * @property {string[]} consent_mode Consent Mode keys granted while it is allowed (ad_storage, ...)
 * @property {string[]} cookies cookie names deleted when it is refused; a trailing * matches a prefix
 * @property {string[]} storage localStorage / sessionStorage keys deleted when it is refused; a
 *   trailing * matches a prefix
 * @property {boolean} [sale_share] whether it sells or shares personal data (an ad_* Consent Mode
 *   key, or the slug marketing): GPC and "Do Not Sell or Share" turn it off; see isSaleShare
 */

/**
 * Banner and dialog texts, keyed by role: title, description, accept_all, reject_all, settings,
 * save, close, dnss, privacy_settings, ok, policy_link, necessary_note.
 * @typedef {Object<string, string>} Texts
 */

/**
 * @typedef {object} ConsentModeConfig
 * @property {number} wait_for_update milliseconds tags wait for the first update (sent with each default)
 * @property {ConsentModeDefault[]} defaults one gtag('consent', 'default') each; the region-less
 *   fallback is pushed last
 */

/**
 * @typedef {object} ConsentModeDefault
 * @property {string[]} [region] the ISO 3166 codes this entry applies to; absent on the fallback
 * @property {Object<string, 'granted' | 'denied'>} values the seven Consent Mode keys
 */

/**
 * Whether GPC and "Do Not Sell or Share" turn this purpose off, as the server decides it.
 * @param {Purpose} purpose
 */
export const isSaleShare = purpose =>
  // A configuration cached from before sale_share existed: marketing was the one sale/share purpose.
  purpose.sale_share == null ? purpose.slug == 'marketing' : purpose.sale_share
