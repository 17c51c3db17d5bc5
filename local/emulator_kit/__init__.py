"""What the Greengrass V1 and V2 emulators share: clock, switches, fault and call bookkeeping, the
threaded HTTP server with its /_emulator/ control surface, the control client and `python -m` entry.

Why one place: both emulators are started, stopped, switched and observed the same way; only
the service each one emulates differs (see local/greengrass_emulator/, local/greengrass_v2_emulator/).
"""
