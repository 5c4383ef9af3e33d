"""Tests of the facerec package."""
