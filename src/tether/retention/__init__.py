"""Data retention (Cumulocity /retention/retentions): rules per tenant and the job that applies them."""
