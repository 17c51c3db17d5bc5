"""Deployers: what the file pipeline asks of a deployment service, and the services' answers.

``base`` is the interface the core (intake, dispatch, tracker, report frame) depends on; each
subpackage (``greengrass_v1``; Greengrass V2 next) holds everything specific to one service.
The core imports ``base`` only; ``wiring`` picks the deployer.
"""
