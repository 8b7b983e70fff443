"""Tests for the pure half of the email channel (channels.email)."""
