"""flash-bench: the FLASH benchmark suite — datasets, methods, metrics, tables."""
import logging

__version__ = "0.1.0"


class _EmptyFp32ListWarning(logging.Filter):
    """diffusers warns "modules … should be kept in float32: []" on every dtype-carrying ``to()`` (so on every
    ``UNetMotionModel.from_unet2d``) even when that list is empty; it names nothing, so it is dropped here, once,
    on the logger by name (diffusers need not be imported). The warning with a non-empty list still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


logging.getLogger("diffusers.models.modeling_utils").addFilter(_EmptyFp32ListWarning())
