"""Email marketing consent: its own purpose, never implied by a cookie-banner `marketing` grant
(REGULATIONS.md section 8), reading only its own tables. `records` (submit, confirm, withdraw),
`links` (the confirmation and unsubscribe tokens in the mail), `checks` (may this address be
emailed?)."""
