"""Test data and builders shared by the panel and data-feature tests."""
