"""``python -m bulk_deployer_cli``: the same as the ``bulk-deployer`` console script."""

from bulk_deployer_cli.main import run

run()
