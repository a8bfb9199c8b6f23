"""Tests for HAN Meter."""
