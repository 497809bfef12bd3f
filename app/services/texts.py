"""Built-in banner texts and default purposes in English, German, French and Spanish.

A site overrides any text per language in its configuration; these fill what it leaves out.
"""

RTL_LANGUAGES = {"ar", "fa", "he", "ur", "ps", "yi", "dv", "ku"}

BANNER_TEXTS = {
    "en": {
        "title": "Your privacy choices",
        "description": "We use cookies and similar technologies. Necessary ones keep the site working; "
        "others are used only if you allow them. You can change your choice at any time.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "settings": "Settings",
        "save": "Save choices",
        "close": "Close",
        "dnss": "Do Not Sell or Share My Personal Information",
        "privacy_settings": "Privacy settings",
        "ok": "OK",
        "policy_link": "Privacy policy",
        "necessary_note": "Always on",
        "download_data": "Download my data",
        "delete_data": "Delete my data",
        "delete_confirm": "Delete the consent records of this browser? You will be asked again.",
    },
    "de": {
        "title": "Ihre Datenschutz-Einstellungen",
        "description": "Wir verwenden Cookies und ähnliche Technologien. Notwendige halten die Website in Betrieb; "
        "alle anderen nur mit Ihrer Erlaubnis. Sie können Ihre Wahl jederzeit ändern.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "settings": "Einstellungen",
        "save": "Auswahl speichern",
        "close": "Schließen",
        "dnss": "Meine personenbezogenen Daten nicht verkaufen oder weitergeben",
        "privacy_settings": "Datenschutz-Einstellungen",
        "ok": "OK",
        "policy_link": "Datenschutzerklärung",
        "necessary_note": "Immer aktiv",
        "download_data": "Meine Daten herunterladen",
        "delete_data": "Meine Daten löschen",
        "delete_confirm": "Die Einwilligungsdaten dieses Browsers löschen? Sie werden erneut gefragt.",
    },
    "fr": {
        "title": "Vos choix de confidentialité",
        "description": "Nous utilisons des cookies et des technologies similaires. Les cookies nécessaires font "
        "fonctionner le site ; les autres ne sont utilisés qu'avec votre accord. Vous pouvez changer d'avis à tout moment.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "settings": "Paramètres",
        "save": "Enregistrer mes choix",
        "close": "Fermer",
        "dnss": "Ne pas vendre ni partager mes informations personnelles",
        "privacy_settings": "Paramètres de confidentialité",
        "ok": "OK",
        "policy_link": "Politique de confidentialité",
        "necessary_note": "Toujours actif",
        "download_data": "Télécharger mes données",
        "delete_data": "Supprimer mes données",
        "delete_confirm": "Supprimer les enregistrements de consentement de ce navigateur ? "
        "La question vous sera reposée.",
    },
    "es": {
        "title": "Sus opciones de privacidad",
        "description": "Usamos cookies y tecnologías similares. Las necesarias hacen funcionar el sitio; "
        "las demás solo se usan si usted lo permite. Puede cambiar su elección en cualquier momento.",
        "accept_all": "Aceptar todo",
        "reject_all": "Rechazar todo",
        "settings": "Configuración",
        "save": "Guardar selección",
        "close": "Cerrar",
        "dnss": "No vender ni compartir mi información personal",
        "privacy_settings": "Configuración de privacidad",
        "ok": "Aceptar",
        "policy_link": "Política de privacidad",
        "necessary_note": "Siempre activo",
        "download_data": "Descargar mis datos",
        "delete_data": "Eliminar mis datos",
        "delete_confirm": "¿Eliminar los registros de consentimiento de este navegador? Se le volverá a preguntar.",
    },
}

# slug -> legal basis, default outside opt-in, Consent Mode keys, titles, descriptions
DEFAULT_PURPOSES = [
    {
        "slug": "necessary",
        "legal_basis": "necessary",
        "default_on": True,
        "consent_mode_keys": ["security_storage"],
        "titles": {"en": "Necessary", "de": "Notwendig", "fr": "Nécessaires", "es": "Necesarias"},
        "descriptions": {
            "en": "Needed for the site to work and to remember your privacy choice.",
            "de": "Für den Betrieb der Website und zum Speichern Ihrer Datenschutz-Wahl erforderlich.",
            "fr": "Indispensables au fonctionnement du site et à la mémorisation de votre choix.",
            "es": "Necesarias para que el sitio funcione y para recordar su elección de privacidad.",
        },
    },
    {
        "slug": "analytics",
        "legal_basis": "consent",
        "default_on": True,
        "consent_mode_keys": ["analytics_storage"],
        "titles": {"en": "Analytics", "de": "Statistik", "fr": "Mesure d'audience", "es": "Analítica"},
        "descriptions": {
            "en": "Helps us understand how the site is used so we can improve it.",
            "de": "Hilft uns zu verstehen, wie die Website genutzt wird, damit wir sie verbessern können.",
            "fr": "Nous aide à comprendre l'utilisation du site pour l'améliorer.",
            "es": "Nos ayuda a entender cómo se usa el sitio para mejorarlo.",
        },
    },
    {
        "slug": "marketing",
        "legal_basis": "consent",
        "default_on": True,
        "consent_mode_keys": ["ad_storage", "ad_user_data", "ad_personalization"],
        "titles": {"en": "Marketing", "de": "Marketing", "fr": "Marketing", "es": "Marketing"},
        "descriptions": {
            "en": "Used to show relevant ads and measure them, also on other sites.",
            "de": "Für passende Werbung und deren Messung, auch auf anderen Websites.",
            "fr": "Sert à afficher des publicités pertinentes et à les mesurer, y compris sur d'autres sites.",
            "es": "Se usa para mostrar anuncios relevantes y medirlos, también en otros sitios.",
        },
    },
    {
        "slug": "preferences",
        "legal_basis": "consent",
        "default_on": True,
        "consent_mode_keys": ["functionality_storage", "personalization_storage"],
        "titles": {"en": "Preferences", "de": "Präferenzen", "fr": "Préférences", "es": "Preferencias"},
        "descriptions": {
            "en": "Remembers your settings, such as language or region.",
            "de": "Speichert Ihre Einstellungen, etwa Sprache oder Region.",
            "fr": "Mémorise vos réglages, comme la langue ou la région.",
            "es": "Recuerda sus ajustes, como el idioma o la región.",
        },
    },
]
