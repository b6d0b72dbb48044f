"""Budgets for carbon, energy and cost per team and feature: rules, status, a guard (``docs/budgets.md``).

``spec`` reads the budgets file; ``rules`` writes Prometheus rules; ``alertmanager`` the routes that
reach each owner; ``status`` computes spend, forecast and anomalies from a ``source`` (Prometheus
or the ledger); ``guard`` answers ``over_budget()`` in the app without blocking.
"""
