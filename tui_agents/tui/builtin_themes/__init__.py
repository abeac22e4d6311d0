"""Package-data copies of the top-level themes/ folder, for installed wheels."""
