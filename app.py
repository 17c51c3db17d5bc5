#!/usr/bin/env python3
"""CDK entry point (cdk.json "app"). Configuration: the context keys in infra/config.py."""

from infra.stack import build_app

app, _stack = build_app()
app.synth()
