"""Tests for the bundled amshan library."""
