"""The local console (issue 14): `python -m emulator logs|invoke` and the web console at `/_console/`.

The web console is a read-only WSGI app mounted in front of moto on the emulator's own loopback port
(`emulator.console.app.with_console`); it reads everything with the boto3 calls a user could make.
"""
