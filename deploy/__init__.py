"""`python -m deploy`: the stack from template.yaml on AWS (SAM CLI) or at an endpoint (emulator, LocalStack)."""
