"""Aggregates: payments, refunds, invoices and the billing record chain."""
