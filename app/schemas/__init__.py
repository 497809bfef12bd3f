"""marshmallow schemas, one module per area: inputs and outputs kept apart; inputs reject unknown fields."""
