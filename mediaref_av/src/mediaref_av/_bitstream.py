"""What the bitstream says that the container may get wrong: keyframes, reference pictures.

Muxers flag keyframes; some flag every packet (HEVC in MKV, H.264 in some tools). These
checks read NAL unit headers (and an H.264 slice header's first fields) so that only
pictures a decoder can start from count as keyframes. Decoding still verifies each start.
"""

from __future__ import annotations

__all__ = [
    "h264_declares_reorder",
    "h264_key",
    "h264_slices",
    "hevc_irap",
    "hevc_wavefront",
    "skip_nonref_safe",
]


def hevc_irap(data: bytes, length_size: int) -> bool | None:
    """Whether an HEVC access unit starts with an IRAP picture; `None` if it cannot tell.

    `length_size` is the NAL length prefix size from ``hvcC`` (0: Annex B start codes).
    """
    n = len(data)
    if length_size:
        i = 0
        while i + length_size < n:
            size = int.from_bytes(data[i : i + length_size], "big")
            nal_type = (data[i + length_size] >> 1) & 0x3F
            if nal_type < 32:
                return 16 <= nal_type <= 23
            if size <= 0:
                return None
            i += length_size + size
        return None
    i = data.find(b"\0\0\1")
    while 0 <= i < n - 3:
        nal_type = (data[i + 3] >> 1) & 0x3F
        if nal_type < 32:
            return 16 <= nal_type <= 23
        i = data.find(b"\0\0\1", i + 3)
    return None


def _nal_starts(data: bytes, length_size: int) -> list[int]:
    """Offsets of the NAL unit headers in an access unit (length-prefixed or Annex B)."""
    out: list[int] = []
    n = len(data)
    if length_size:
        i = 0
        while i + length_size < n:
            out.append(i + length_size)
            size = int.from_bytes(data[i : i + length_size], "big")
            if size <= 0:
                break
            i += length_size + size
        return out
    i = data.find(b"\0\0\1")
    while 0 <= i < n - 3:
        out.append(i + 3)
        i = data.find(b"\0\0\1", i + 3)
    return out


def _read_ue(data: bytes, bit: int) -> tuple[int, int]:
    """Read one Exp-Golomb ``ue(v)`` at bit offset `bit`; return (value, next bit)."""
    zeros = 0
    while bit < 8 * len(data) and not (data[bit >> 3] >> (7 - (bit & 7))) & 1:
        zeros += 1
        bit += 1
    bit += 1
    value = 0
    for _ in range(zeros):
        if bit >= 8 * len(data):
            raise IndexError
        value = (value << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def h264_key(data: bytes, length_size: int) -> bool | None:
    """Whether an H.264 access unit can start decoding; `None` if it cannot tell.

    True for an IDR picture, a recovery-point SEI (open GOP) or an I slice.
    """
    recovery = False
    for start in _nal_starts(data, length_size):
        if start >= len(data):
            break
        nal_type = data[start] & 0x1F
        if nal_type == 5:
            return True
        if nal_type == 6:
            i, payload = start + 1, 0
            while i < len(data) and data[i] == 0xFF:
                payload, i = payload + 255, i + 1
            if i < len(data) and payload + data[i] == 6:
                recovery = True
        elif nal_type == 1:
            if recovery:
                return True
            try:
                head = data[start + 1 : start + 9]
                _, bit = _read_ue(head, 0)  # first_mb_in_slice
                slice_type, _ = _read_ue(head, bit)
            except IndexError:
                return None
            return slice_type % 5 in (2, 4)  # I or SI
    return None


def h264_slices(data: bytes, length_size: int) -> int:
    """How many slices code an H.264 access unit's picture (coded slice NAL units)."""
    starts = _nal_starts(data, length_size)
    return sum(1 for i in starts if i < len(data) and data[i] & 0x1F in (1, 5))


def _rbsp(nal: bytes) -> bytes:
    """A NAL unit's payload without its emulation prevention bytes (``00 00 03``)."""
    return nal.replace(b"\0\0\3", b"\0\0")


def _hvcc_nals(extradata: bytes) -> list[bytes]:
    """The NAL units (VPS, SPS, PPS, SEI) in an ``hvcC`` record (MP4, Matroska)."""
    out: list[bytes] = []
    if len(extradata) < 23 or extradata[0] != 1:
        return out
    i, arrays = 23, extradata[22]
    for _ in range(arrays):
        if i + 3 > len(extradata):
            break
        count = int.from_bytes(extradata[i + 1 : i + 3], "big")
        i += 3
        for _ in range(count):
            size = int.from_bytes(extradata[i : i + 2], "big")
            out.append(extradata[i + 2 : i + 2 + size])
            i += 2 + size
    return out


def _pps_wavefront(pps: bytes) -> bool | None:
    """A PPS's ``entropy_coding_sync_enabled_flag`` (H.265 7.3.2.3.1); `None` if unreadable."""
    data = _rbsp(pps[2:])  # after the two-byte NAL unit header
    try:
        _, bit = _read_ue(data, 0)  # pps_pic_parameter_set_id
        _, bit = _read_ue(data, bit)  # pps_seq_parameter_set_id
        bit += 7  # dependent slices, output flag, 3 extra header bits, sign hiding, cabac init
        for _ in range(3):  # num_ref_idx_l0/l1_default_active_minus1, init_qp_minus26
            _, bit = _read_ue(data, bit)
        bit += 2  # constrained_intra_pred_flag, transform_skip_enabled_flag
        if _bit(data, bit):  # cu_qp_delta_enabled_flag
            _, bit = _read_ue(data, bit + 1)  # diff_cu_qp_delta_depth
        else:
            bit += 1
        for _ in range(2):  # pps_cb_qp_offset, pps_cr_qp_offset
            _, bit = _read_ue(data, bit)
        # chroma qp offsets present, weighted pred, weighted bipred, transquant bypass,
        # tiles enabled: then entropy_coding_sync_enabled_flag.
        return bool(_bit(data, bit + 5))
    except IndexError:
        return None


def _bit(data: bytes, bit: int) -> int:
    return (data[bit >> 3] >> (7 - (bit & 7))) & 1


def hevc_wavefront(extradata: bytes | None, first: bytes, length_size: int) -> bool:
    """Whether HEVC pictures are coded in wavefront rows (x265's default ``--wpp``).

    FFmpeg's slice threads then decode one picture's CTB rows in parallel: no pipeline
    to fill or drain, unlike frame threads. Read from the parameter sets in ``hvcC``, or
    in the first access unit for streams that carry them in band (Annex B).
    """
    nals = _hvcc_nals(extradata or b"")
    if not nals:
        nals = [first[i:] for i in _nal_starts(first, length_size)]
    for nal in nals:
        if len(nal) > 2 and (nal[0] >> 1) & 0x3F == 34:  # PPS_NUT
            return bool(_pps_wavefront(nal))
    return False


def _avcc_sps(extradata: bytes) -> list[bytes]:
    """The SPS NAL units in an ``avcC`` record (MP4, Matroska)."""
    out: list[bytes] = []
    if len(extradata) < 7 or extradata[0] != 1:
        return out
    i = 6
    for _ in range(extradata[5] & 0x1F):
        size = int.from_bytes(extradata[i : i + 2], "big")
        out.append(extradata[i + 2 : i + 2 + size])
        i += 2 + size
    return out


_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
"""``profile_idc`` values whose SPS carries chroma format, bit depths and scaling lists."""


def _read_se(data: bytes, bit: int) -> tuple[int, int]:
    """Read one signed Exp-Golomb ``se(v)``; return (value, next bit)."""
    k, bit = _read_ue(data, bit)
    return (k + 1) // 2 if k & 1 else -(k // 2), bit


def _skip_hrd(data: bytes, bit: int) -> int:
    """Skip ``hrd_parameters()`` (H.264 E.1.2); return the next bit."""
    cpb_cnt, bit = _read_ue(data, bit)
    bit += 8  # bit_rate_scale, cpb_size_scale
    for _ in range(cpb_cnt + 1):
        _, bit = _read_ue(data, bit)  # bit_rate_value_minus1
        _, bit = _read_ue(data, bit)  # cpb_size_value_minus1
        bit += 1  # cbr_flag
    return bit + 20  # four 5-bit delay and offset lengths


def _sps_declares_reorder(sps: bytes) -> bool:
    """An SPS's VUI ``bitstream_restriction_flag`` (H.264 7.3.2.1.1, E.1.1).

    Raises:
        IndexError: The SPS ends early.
    """
    data = _rbsp(sps[1:])  # after the one-byte NAL unit header
    profile = data[0]
    _, bit = _read_ue(data, 24)  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        chroma, bit = _read_ue(data, bit)
        bit += chroma == 3  # separate_colour_plane_flag
        _, bit = _read_ue(data, bit)  # bit_depth_luma_minus8
        _, bit = _read_ue(data, bit)  # bit_depth_chroma_minus8
        bit += 1  # qpprime_y_zero_transform_bypass_flag
        if _bit(data, bit):  # seq_scaling_matrix_present_flag
            bit = _skip_scaling_lists(data, bit + 1, 12 if chroma == 3 else 8)
        else:
            bit += 1
    _, bit = _read_ue(data, bit)  # log2_max_frame_num_minus4
    poc_type, bit = _read_ue(data, bit)
    if poc_type == 0:
        _, bit = _read_ue(data, bit)  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bit += 1  # delta_pic_order_always_zero_flag
        _, bit = _read_se(data, bit)  # offset_for_non_ref_pic
        _, bit = _read_se(data, bit)  # offset_for_top_to_bottom_field
        cycle, bit = _read_ue(data, bit)
        for _ in range(cycle):
            _, bit = _read_se(data, bit)  # offset_for_ref_frame
    _, bit = _read_ue(data, bit)  # max_num_ref_frames
    bit += 1  # gaps_in_frame_num_value_allowed_flag
    _, bit = _read_ue(data, bit)  # pic_width_in_mbs_minus1
    _, bit = _read_ue(data, bit)  # pic_height_in_map_units_minus1
    bit += 2 if _bit(data, bit) else 3  # frame_mbs_only_flag [, mb_adaptive_frame_field_flag]
    cropping = _bit(data, bit)  # after direct_8x8_inference_flag
    bit += 1
    for _ in range(4 if cropping else 0):
        _, bit = _read_ue(data, bit)
    return bool(_bit(data, bit)) and _vui_declares_reorder(data, bit + 1)


def _skip_scaling_lists(data: bytes, bit: int, count: int) -> int:
    """Skip an SPS's `count` optional scaling lists (H.264 7.3.2.1.1.1); return the next bit."""
    for i in range(count):
        present = _bit(data, bit)
        bit += 1
        last = following = 8
        for _ in range((16 if i < 6 else 64) if present else 0):
            if following:
                delta, bit = _read_se(data, bit)
                following = (last + delta + 256) % 256
            last = following or last
    return bit


def _vui_declares_reorder(data: bytes, bit: int) -> bool:
    """``bitstream_restriction_flag`` of the ``vui_parameters()`` at `bit` (H.264 E.1.1)."""
    if _bit(data, bit):  # aspect_ratio_info_present_flag, aspect_ratio_idc (255: two u(16))
        bit += 9 + (32 if _bits(data, bit + 1, 8) == 255 else 0)
    else:
        bit += 1
    bit += 1 + _bit(data, bit)  # overscan_info_present_flag [, overscan_appropriate_flag]
    if _bit(data, bit):  # video_signal_type_present_flag: format, range, colour description
        bit += 6 + (24 if _bit(data, bit + 5) else 0)
    else:
        bit += 1
    if _bit(data, bit):  # chroma_loc_info_present_flag
        _, bit = _read_ue(data, bit + 1)
        _, bit = _read_ue(data, bit)
    else:
        bit += 1
    bit += 1 + (65 if _bit(data, bit) else 0)  # timing_info: two u(32), fixed_frame_rate_flag
    hrd = False
    for _ in range(2):  # nal_hrd_parameters_present_flag, vcl_hrd_parameters_present_flag
        present = _bit(data, bit)
        bit += 1
        if present:
            hrd = True
            bit = _skip_hrd(data, bit)
    bit += hrd + 1  # [low_delay_hrd_flag,] pic_struct_present_flag
    return bool(_bit(data, bit))


def _bits(data: bytes, bit: int, n: int) -> int:
    """`n` bits from bit offset `bit`, most significant first."""
    value = 0
    for i in range(n):
        value = (value << 1) | _bit(data, bit + i)
    return value


def h264_declares_reorder(extradata: bytes | None) -> bool:
    """Whether every SPS in ``avcC`` declares how many pictures output waits for.

    With the VUI's ``bitstream_restriction_flag`` (x264 writes it), FFmpeg's decoder takes
    its output delay (``max_num_reorder_frames``) from the SPS at the first picture; without
    it, the delay is what ``avformat_find_stream_info`` guessed by decoding seven pictures
    when the file was opened. False for parameter sets in band only (MPEG-TS, Annex B).
    """
    sps = _avcc_sps(extradata or b"")
    try:
        return bool(sps) and all(len(s) > 4 and _sps_declares_reorder(s) for s in sps)
    except IndexError:
        return False


_NONREF_NEVER_REFERENCED = frozenset({"h264", "mpeg4", "mpeg2video", "mpeg1video"})
"""Codecs whose FFmpeg decoder, under NONREF, drops only pictures no other picture uses:
H.264 ``nal_ref_idc == 0``; MPEG-1/2/4 part 2 B-pictures."""


def skip_nonref_safe(codec: str, extradata: bytes | None) -> bool:
    """Whether FFmpeg's ``skip_frame=NONREF`` drops only pictures nothing references."""
    if codec in _NONREF_NEVER_REFERENCED:
        return True
    if codec == "hevc" and extradata and len(extradata) > 22 and extradata[0] == 1:
        # FFmpeg drops every sub-layer non-reference NAL type, which higher temporal
        # sub-layers may still reference: safe only with one temporal layer (hvcC says).
        return (extradata[21] >> 3) & 7 == 1
    return False
