"""moto in its own wing: one module per AWS service we extend, and the registry that installs and verifies
every patch of moto, cheroot, awslambdaric and botocore (emulator/aws/registry.py)."""
