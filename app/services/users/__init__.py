"""The dashboard's users, one module per concern; import each name from the module that owns it.

- `roles`: the roles, the permissions, and whether a user may do something on a site (no database)
- `access`: the sites a user sees, and a site looked up for a permission (NotFound / Forbidden)
- `accounts`: creating, finding, listing, disabling users; passwords set, reset and changed
- `passwords`: argon2id hashes and the password rules
- `second_factor`: the TOTP second factor: setting it up, checking codes, removing it
- `sign_in`: a sign-in's password and code checks, and its audit entries
- `settings`: the installation-wide settings (whether everyone needs a second factor)
- `errors`: the domain errors they raise
"""
