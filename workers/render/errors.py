"""The render engine's own errors: a stable ``code`` for machines, a sentence for people."""

from __future__ import annotations


class RenderError(Exception):
    """A render that cannot go on; ``code`` is stable and safe to show to API users.

    ``transient`` marks failures worth retrying (I/O hiccups), as opposed to bad input.
    """

    code: str = "render_failed"
    transient: bool = False

    def __init__(
        self, message: str, *, code: str | None = None, transient: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotAVideo(RenderError):
    """The file is empty, corrupt, or holds no decodable video stream."""

    code = "not_a_video"


class UnsupportedCodec(RenderError):
    """The container is readable but its video codec is not one we can decode."""

    code = "unsupported_codec"


class MomentOutOfRange(RenderError):
    """The requested time range is empty or lies (partly) outside the source."""

    code = "moment_out_of_range"


class MomentTooShort(MomentOutOfRange):
    """The moment holds no whole output frame once its ends are snapped to frames."""

    code = "moment_too_short"


class OutputTooLarge(RenderError):
    """The output picture would be larger than the encoder (or the service) accepts."""

    code = "output_too_large"


class InvalidRenderSpec(RenderError):
    """An aspect, resolution, focus or caption outside what the engine accepts."""

    code = "invalid_render_spec"


class RenderCancelled(RenderError):
    """The cancel check asked us to stop; partial files have been removed."""

    code = "cancelled"
