"""Tests of service/cli."""
