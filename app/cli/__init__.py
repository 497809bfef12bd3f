"""`flask` commands, one module per command group; each wraps the services and adds no rules."""


def init_app(app):
    """Register every command group."""
    from app.cli import (
        audit,
        demo,
        email,
        geoip,
        identities,
        keys,
        ledger,
        policy,
        proof,
        retention,
        scan,
        sites,
        stats,
        subjects,
        users,
        webhooks,
        worker,
    )

    for group in (sites.sites_cli, keys.keys_cli, policy.policy_cli, ledger.ledger_cli, geoip.geoip_cli,
                  demo.demo_cli, identities.identities_cli, email.email_cli, webhooks.webhooks_cli, audit.audit_cli,
                  subjects.subjects_cli, retention.retention_cli, users.users_cli, stats.stats_cli,
                  proof.proof_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker.worker_command)
    app.cli.add_command(scan.scan_command)
