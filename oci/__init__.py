"""leango's OCI content model and outputs. Knows nothing of Go, buildah or click."""

from .blob import Blob
from .config import History, ImageConfig
from .descriptor import Descriptor, Platform
from .digest import Digest
from .errors import (
                     ArchiveError,
                     DigestError,
                     DigestMismatch,
                     InvalidReference,
                     LayoutError,
                     OciError,
                     RegistryError,
                     TarError,
)
from .image import Image
from .index import Index
from .layer import Layer, build_layer
from .reference import Reference, parse_reference

__all__ = [
    "ArchiveError", "Blob", "Descriptor", "Digest", "DigestError", "DigestMismatch",
    "History", "Image", "ImageConfig", "Index", "InvalidReference", "Layer", "LayoutError",
    "OciError", "Platform", "Reference", "RegistryError", "TarError", "build_layer",
    "parse_reference",
]
