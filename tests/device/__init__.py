"""Tests of the device package (Pi scripts) against a moto server."""
