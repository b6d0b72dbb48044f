"""Subcommands of the ``otel-carbon`` CLI (see ``otel_carbon.cli``)."""
