"""CDK app of bulk-deployer: one construct per concern (storage, intake, processing)."""
