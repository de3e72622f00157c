"""A registry client built for pushing: credentials, auth, transport, uploads, manifests."""
