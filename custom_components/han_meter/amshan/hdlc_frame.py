"""The records an :class:`~.hdlc.HdlcFrameReader` returns: a frame and its header."""

from __future__ import annotations

from .record import Record, set_field

FRAME_FORMAT_TYPE_3 = 0xA


class HdlcFrameHeader(Record):
    """The fields before the information field."""

    __slots__ = __match_args__ = (
        "frame_format",
        "frame_length",
        "segmentation",
        "destination_address",
        "source_address",
        "control",
    )
    frame_format: int  # the 4-bit format type (0xA for type 3)
    frame_length: int  # bytes between the flags
    segmentation: bool
    destination_address: bytes  # raw, 1, 2 or 4 bytes, the last one with LSB 1
    source_address: bytes
    control: int

    def __init__(
        self,
        frame_format: int,
        frame_length: int,
        segmentation: bool,
        destination_address: bytes,
        source_address: bytes,
        control: int,
    ) -> None:
        set_field(self, "frame_format", frame_format)
        set_field(self, "frame_length", frame_length)
        set_field(self, "segmentation", segmentation)
        set_field(self, "destination_address", destination_address)
        set_field(self, "source_address", source_address)
        set_field(self, "control", control)


class HdlcFrame(Record):
    """One frame as read, flags included."""

    __slots__ = __match_args__ = ("as_bytes", "header", "payload", "is_good_hcs", "is_good_fcs")
    as_bytes: bytes
    header: HdlcFrameHeader | None
    payload: bytes  # the information field, b"" when there is none
    is_good_hcs: bool
    is_good_fcs: bool

    def __init__(
        self,
        as_bytes: bytes,
        header: HdlcFrameHeader | None,
        payload: bytes,
        is_good_hcs: bool,
        is_good_fcs: bool,
    ) -> None:
        set_field(self, "as_bytes", as_bytes)
        set_field(self, "header", header)
        set_field(self, "payload", payload)
        set_field(self, "is_good_hcs", is_good_hcs)
        set_field(self, "is_good_fcs", is_good_fcs)

    @property
    def is_valid(self) -> bool:
        """Header parsed, both check sequences right and the length field matches."""
        header = self.header
        return (
            header is not None
            and self.is_good_hcs
            and self.is_good_fcs
            and len(self.as_bytes) == header.frame_length + 2
        )
