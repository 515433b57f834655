"""leukodet: white-blood-cell detection, morphological attributes and sparse-annotation training for
peripheral blood film microscopy (Rehman et al. 2025: AttriDet + SLA-Det on the Large Leukemia Dataset).

Importing the package is light: torch is imported only by the layers that need it.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
