"""Network layers shared by learned tools.

``exact``: graphs of convolutions, sums, concatenations and pixel shuffles in exact integer arithmetic
(carried in float64), with a trainable float twin, so that decoders compute bit-identical values on every
machine, thread count and device.
"""
