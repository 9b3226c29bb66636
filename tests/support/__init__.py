"""Helpers shared by the test suite: private servers on free ports, database fixtures."""
