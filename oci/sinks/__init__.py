"""Outputs for an Image or Index: OCI layout, OCI archive, docker archive, registry."""
