"""Card payments through Stripe: the gateway, PaymentIntents, stored webhook events and
the sync that catches up on what the webhooks missed."""
