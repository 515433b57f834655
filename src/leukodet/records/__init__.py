"""Records layer (no torch): typed records, every dataset format, statistics and sparse splits."""

from .diagnostics import DataError, Diagnostics, Problem
from .io import FORMATS, conversion_losses, write_dataset
from .schema import Attribute, AttributeSchema, Box, Cell, Dataset, Domain, ImageRecord
from .sources import load_source
from .vocab import LLD_ATTRIBUTES, LLD_CLASSES, LLD_DOMAINS, lld_schema

__all__ = [
    "Attribute",
    "AttributeSchema",
    "Box",
    "Cell",
    "DataError",
    "Dataset",
    "Diagnostics",
    "Domain",
    "FORMATS",
    "ImageRecord",
    "LLD_ATTRIBUTES",
    "LLD_CLASSES",
    "LLD_DOMAINS",
    "Problem",
    "conversion_losses",
    "load_source",
    "lld_schema",
    "write_dataset",
]
