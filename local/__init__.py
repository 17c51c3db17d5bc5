"""Local stand-ins for AWS: moto in server mode and the Greengrass V1 bulk-deployment emulator.

Nothing here ships to Lambda. These modules let tests and the demo run the whole pipeline on one
machine, over real HTTP, with the product's ordinary boto3 clients pointed at loopback endpoints.
"""
