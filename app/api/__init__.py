"""JSON blueprints, one module per area."""
