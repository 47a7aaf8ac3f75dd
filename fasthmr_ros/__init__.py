"""fasthmr_ros: real-time 3D human mesh recovery (FastHMR, GenHMR) for ROS 2 and plain Python."""

from __future__ import annotations

from pkgutil import extend_path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The generated ROS messages (fasthmr_ros.msg) share this package. ament installs both halves
# into one folder; `scripts/setup.sh --ros` builds the messages into a folder of their own next to
# the pip install and names it in site-packages/fasthmr_ros.pkg, which extend_path reads.
__path__ = extend_path(__path__, __name__)

if TYPE_CHECKING:
    from fasthmr_ros.models.hmr import HMR


def load_model(path: str, **kwargs: Any) -> HMR:
    """Load an HMR 2.0 / CameraHMR Lightning checkpoint or a fasthmr_ros checkpoint.

    See `fasthmr_ros.models.checkpoint.load_model` for the formats and options.
    """
    from fasthmr_ros.models.checkpoint import load_model as _load

    return _load(path, **kwargs)


__all__ = ["__version__", "load_model"]
