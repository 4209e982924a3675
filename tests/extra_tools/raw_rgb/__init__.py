"""``raw-rgb``: a coding tool that exists only in the tests, registered through the registry alone.

The picture's 8-bit RGB samples in one payload unit (a first byte names the sample order, the
``channel_order`` setting). Made to prove that a new tool needs its encoder module, its decoder module and
its registry entry (this module's ``ICM_TOOLS``), and nothing else: run with
``ICM_EXTRA_TOOLS=raw_rgb`` and this folder on ``PYTHONPATH``.
"""
from icm.common.registry import RateParameter, Setting, ToolEntry

ORDERS = ("rgb", "bgr")

ICM_TOOLS = (
    ToolEntry(
        name="raw-rgb",
        tool_id=200,  # outside the syntax's TOOLS table: an experimental tool
        encoder="raw_rgb.encoder:RawRgbEncoder",
        decoder="raw_rgb.decoder:RawRgbDecoder",
        rate=RateParameter("quality", default=1, minimum=1, maximum=1, help="One rate point."),
        summary="{tool} ({channel_order} samples)",
        description="raw 8-bit samples in one payload (a test tool)",
        settings=(Setting("channel_order", "rgb", "Order of the samples in the payload.", choices=ORDERS),),
    ),
)
