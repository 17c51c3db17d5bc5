"""bulk-deployer: exactly-once AWS IoT Greengrass bulk deployments from files dropped into S3."""

__version__ = "0.1.0"
