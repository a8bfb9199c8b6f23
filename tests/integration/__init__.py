"""Tests for the Home Assistant integration."""
